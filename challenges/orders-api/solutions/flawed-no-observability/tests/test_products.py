"""Products: creation and validation, lookup, pagination, restocking."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

VALID = {"name": "Coffee beans 1kg", "sku": "COF-1KG", "price_cents": 1890, "stock": 25}


def test_create_product_returns_it_with_id_and_timestamp(api: APIClient) -> None:
    response = api.post("/v1/products", VALID, format="json")

    assert response.status_code == 201
    body = response.json()
    assert {key: body[key] for key in VALID} == VALID
    assert body["id"] >= 1
    assert body["created_at"].endswith("Z")
    assert api.get(f"/v1/products/{body['id']}").json() == body


def test_duplicate_sku_is_a_conflict(api: APIClient) -> None:
    api.post("/v1/products", VALID, format="json")

    response = api.post("/v1/products", {**VALID, "name": "Other"}, format="json")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"


@pytest.mark.parametrize("change", [
    {"name": ""},
    {"name": "x" * 201},
    {"name": 12},
    {"sku": "has space"},
    {"sku": "x" * 65},
    {"price_cents": "12"},
    {"price_cents": 12.5},
    {"price_cents": True},
    {"price_cents": -1},
    {"stock": None},
])
def test_invalid_product_is_rejected(api: APIClient, change: dict[str, Any]) -> None:
    response = api.post("/v1/products", {**VALID, **change}, format="json")

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert set(error["details"]) == set(change)


def test_missing_fields_are_listed(api: APIClient) -> None:
    response = api.post("/v1/products", {}, format="json")

    assert response.status_code == 422
    assert set(response.json()["error"]["details"]) == {"name", "sku", "price_cents", "stock"}


def test_body_that_is_not_json_is_a_400(api: APIClient) -> None:
    response = api.post("/v1/products", "{not json", content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"


def test_unknown_product_is_a_json_404(api: APIClient) -> None:
    response = api.get("/v1/products/424242")

    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "product 424242 not found"}}


def test_pages_cover_every_product_once(api: APIClient, make_product: Callable[..., dict[str, Any]]) -> None:
    created = [make_product()["id"] for _ in range(7)]
    seen: list[int] = []
    cursor = None

    while True:
        params: dict[str, Any] = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = api.get("/v1/products", params).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert seen == created


@pytest.mark.parametrize("params", [{"limit": "0"}, {"limit": "101"}, {"limit": "ten"}, {"cursor": "forged"}])
def test_bad_limit_or_cursor_is_a_422(api: APIClient, params: dict[str, str]) -> None:
    response = api.get("/v1/products", params)

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"


def test_patch_restocks_a_product(api: APIClient, make_product: Callable[..., dict[str, Any]]) -> None:
    product = make_product(stock=1)

    response = api.patch(f"/v1/products/{product['id']}", {"stock": 40}, format="json")

    assert response.status_code == 200
    assert response.json()["stock"] == 40
    assert api.patch(f"/v1/products/{product['id']}", {"stock": -5}, format="json").status_code == 422


def test_patch_to_a_taken_sku_is_a_conflict(api: APIClient, make_product: Callable[..., dict[str, Any]]) -> None:
    first, second = make_product(), make_product()

    response = api.patch(f"/v1/products/{second['id']}", {"sku": first["sku"]}, format="json")

    assert response.status_code == 409
