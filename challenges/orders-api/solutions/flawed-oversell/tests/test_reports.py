"""The revenue report."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from httpx import AsyncClient

from tests.helpers import Json, error_code, order_body


async def test_revenue_per_product_over_placed_orders(
    client: AsyncClient, make_product: Callable[..., Awaitable[Json]], make_customer: Callable[[], Awaitable[Json]]
) -> None:
    cheap, dear, tie, unsold = (await make_product(price_cents=100), await make_product(price_cents=1000),
                                await make_product(price_cents=500), await make_product())
    customer = await make_customer()
    for lines in [((cheap, 3), (dear, 1)), ((dear, 1),), ((tie, 4),)]:
        assert (await client.post("/v1/orders", json=order_body(customer, *lines))).status_code == 201
    cancelled = (await client.post("/v1/orders", json=order_body(customer, (cheap, 5)))).json()
    await client.post(f"/v1/orders/{cancelled['id']}/cancel")

    response = await client.get("/v1/reports/revenue")
    assert response.status_code == 200
    report = response.json()
    assert report["from"] is None and report["to"] is None
    assert report["total_revenue_cents"] == 300 + 2000 + 2000
    assert [(line["product_id"], line["units_sold"], line["revenue_cents"]) for line in report["items"]] == [
        (dear["id"], 2, 2000), (tie["id"], 4, 2000), (cheap["id"], 3, 300)]
    assert report["items"][0]["sku"] == dear["sku"]
    assert unsold["id"] not in {line["product_id"] for line in report["items"]}


async def test_revenue_period_bounds(
    client: AsyncClient, make_product: Callable[..., Awaitable[Json]], make_customer: Callable[[], Awaitable[Json]]
) -> None:
    product, customer = await make_product(price_cents=250), await make_customer()
    order = (await client.post("/v1/orders", json=order_body(customer, (product, 2)))).json()

    inside = (await client.get("/v1/reports/revenue", params={"from": order["created_at"]})).json()
    assert inside["total_revenue_cents"] == 500
    assert inside["from"] == order["created_at"]
    before = (await client.get("/v1/reports/revenue", params={"to": order["created_at"]})).json()
    assert before == {"from": None, "to": order["created_at"], "total_revenue_cents": 0, "items": []}
    shifted = (await client.get("/v1/reports/revenue", params={"from": "2026-11-01T01:00:00+01:00"})).json()
    assert shifted["from"] == "2026-11-01T00:00:00Z"


@pytest.mark.parametrize("params", [{"from": "not-a-date"}, {"to": "2026-02-30T00:00:00Z"}])
async def test_bad_period_is_422(client: AsyncClient, params: dict[str, str]) -> None:
    response = await client.get("/v1/reports/revenue", params=params)
    assert response.status_code == 422
    assert error_code(response) == "validation_error"
