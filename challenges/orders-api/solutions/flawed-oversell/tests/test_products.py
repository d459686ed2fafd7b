"""Products: creation, validation, lookup, pagination, restocking."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import pytest
from httpx import AsyncClient

from tests.helpers import Json, error_code

MakeProduct = Callable[..., Awaitable[Json]]


async def test_create_then_get_product(client: AsyncClient) -> None:
    body = {"name": "Coffee beans 1kg", "sku": "COF-1KG", "price_cents": 1890, "stock": 25}
    created = await client.post("/v1/products", json=body)
    assert created.status_code == 201
    product = created.json()
    assert product == {**body, "id": product["id"], "created_at": product["created_at"]}
    assert product["created_at"].endswith("Z")
    datetime.fromisoformat(product["created_at"])

    fetched = await client.get(f"/v1/products/{product['id']}")
    assert fetched.status_code == 200
    assert fetched.json() == product


async def test_sku_must_be_unique(client: AsyncClient, make_product: MakeProduct) -> None:
    product = await make_product()
    again = await client.post("/v1/products", json={"name": "Other", "sku": product["sku"], "price_cents": 1,
                                                    "stock": 1})
    assert again.status_code == 409
    assert error_code(again) == "conflict"


@pytest.mark.parametrize(
    "change",
    [
        {"price_cents": "12"},
        {"price_cents": 12.5},
        {"stock": True},
        {"stock": -1},
        {"price_cents": 2**64},
        {"name": ""},
        {"name": "x" * 201},
        {"name": 42},
        {"sku": "has space"},
        {"sku": "x" * 65},
        {"sku": None},
    ],
)
async def test_invalid_product_bodies_are_422(client: AsyncClient, change: dict[str, Any]) -> None:
    body = {"name": "Tea", "sku": "TEA-1", "price_cents": 100, "stock": 1, **change}
    response = await client.post("/v1/products", json=body)
    assert response.status_code == 422
    assert error_code(response) == "validation_error"
    assert response.json()["error"]["details"]


async def test_missing_fields_are_422(client: AsyncClient) -> None:
    response = await client.post("/v1/products", json={"name": "Tea"})
    assert response.status_code == 422
    fields = {detail["field"] for detail in response.json()["error"]["details"]}
    assert fields == {"sku", "price_cents", "stock"}


async def test_body_that_is_not_json_is_400(client: AsyncClient) -> None:
    response = await client.post("/v1/products", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert error_code(response) == "validation_error"


@pytest.mark.parametrize("product_id", ["999", str(2**70)])
async def test_unknown_product_is_404(client: AsyncClient, product_id: str) -> None:
    response = await client.get(f"/v1/products/{product_id}")
    assert response.status_code == 404
    assert error_code(response) == "not_found"


async def test_pages_cover_every_product_once(client: AsyncClient, make_product: MakeProduct) -> None:
    created = [(await make_product())["id"] for _ in range(5)]
    seen: list[int] = []
    cursor: str | None = None
    for _ in range(10):
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await client.get("/v1/products", params=params)).json()
        assert len(page["items"]) <= 2
        seen.extend(item["id"] for item in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == created


async def test_default_page_is_20(client: AsyncClient, make_product: MakeProduct) -> None:
    for _ in range(21):
        await make_product()
    page = (await client.get("/v1/products")).json()
    assert len(page["items"]) == 20
    assert page["next_cursor"] is not None


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 101}, {"limit": "ten"}, {"cursor": "forged"},
                                    {"cursor": "eyJzIjoicHJvZHVjdHMiLCJhZnRlciI6MX0.bad-signature"}])
async def test_bad_limit_or_cursor_is_422(client: AsyncClient, params: dict[str, Any]) -> None:
    response = await client.get("/v1/products", params=params)
    assert response.status_code == 422
    assert error_code(response) == "validation_error"


async def test_patch_restocks(client: AsyncClient, make_product: MakeProduct) -> None:
    product = await make_product(stock=1)
    response = await client.patch(f"/v1/products/{product['id']}", json={"stock": 40})
    assert response.status_code == 200
    assert response.json()["stock"] == 40
    assert response.json()["price_cents"] == product["price_cents"]
    missing = await client.patch("/v1/products/999", json={"stock": 1})
    assert missing.status_code == 404
