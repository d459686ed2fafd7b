"""Probes, request ids, JSON access logs and JSON errors for everything."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from django.db import OperationalError, connection
from rest_framework.test import APIClient

from shop import views
from shop.jsonlog import JsonFormatter, request_id_bound


def test_health_needs_no_database(api: APIClient) -> None:
    response = api.get("/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_ready_when_the_database_answers(api: APIClient) -> None:
    assert api.get("/ready").json() == {"status": "ready"}


@pytest.mark.django_db
def test_not_ready_when_the_database_fails(api: APIClient, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_cursor() -> Any:
        raise OperationalError("unable to open database file")

    monkeypatch.setattr(connection, "cursor", broken_cursor)

    response = api.get("/ready")

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "not_ready"


def test_request_id_is_echoed_or_generated(api: APIClient) -> None:
    echoed = api.get("/health", HTTP_X_REQUEST_ID="abc-123")
    replaced = api.get("/health", HTTP_X_REQUEST_ID="x" * 129)

    assert echoed["X-Request-ID"] == "abc-123"
    assert replaced["X-Request-ID"] != "x" * 129
    assert 1 <= len(replaced["X-Request-ID"]) <= 128


def test_every_request_is_logged_with_its_fields(api: APIClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="shop.access"):
        api.get("/health?probe=1", HTTP_X_REQUEST_ID="req-1")

    record = next(r for r in caplog.records if r.name == "shop.access")
    line = json.loads(JsonFormatter().format(record))
    assert line["method"] == "GET"
    assert line["path"] == "/health"
    assert line["status"] == 200
    assert line["request_id"] == "req-1"
    assert isinstance(line["duration_ms"], float)


def test_json_formatter_adds_bound_request_id_and_traceback() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.getLogger("test").makeRecord("test", logging.ERROR, __file__, 1, "failed %s", ("x",),
                                                      exc_info=__import__("sys").exc_info())
    with request_id_bound("rid-9"):
        line = json.loads(JsonFormatter().format(record))

    assert line["message"] == "failed x"
    assert line["request_id"] == "rid-9"
    assert "ValueError: boom" in line["exc_info"]


def test_unknown_path_is_a_json_404(api: APIClient) -> None:
    response = api.get("/nowhere")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert response["X-Request-ID"]


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
