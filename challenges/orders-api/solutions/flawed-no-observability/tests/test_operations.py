"""The health check, and JSON errors for everything."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from shop import views


def test_health_needs_no_database(api: APIClient) -> None:
    response = api.get("/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_unknown_path_is_a_json_404(api: APIClient) -> None:
    response = api.get("/nowhere")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_wrong_method_is_a_json_405(api: APIClient) -> None:
    response = api.delete("/v1/products")

    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


@pytest.mark.django_db
def test_crash_is_a_json_500_without_a_stack_trace(monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("unexpected")

    monkeypatch.setattr(views, "revenue_rows", explode)
    client = APIClient(raise_request_exception=False)

    response = client.get("/v1/reports/revenue")

    assert response.status_code == 500
    assert response.json() == {"error": {"code": "internal_error", "message": "internal server error"}}


def test_oversized_body_is_a_json_400(api: APIClient, settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10

    response = api.post("/v1/products", {"name": "x" * 100}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
