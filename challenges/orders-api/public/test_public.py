"""Happy paths of the Orders API, run against your app over HTTP (`grader check`, or pytest with --app-url).

The hidden suite that grades you covers much more (errors, limits, concurrency, restarts, logs); these
tests only show the contract's main shapes. `@pytest.mark.category` names the scorecard category a test
speaks to (the grader's pytest plugin registers it).
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _product(client: httpx.Client, price_cents: int = 1890, stock: int = 25) -> dict[str, Any]:
    response = client.post("/v1/products", json={"name": "Coffee beans 1kg", "sku": _unique("COF"),
                                                 "price_cents": price_cents, "stock": stock})
    assert response.status_code == 201, response.text
    product: dict[str, Any] = response.json()
    return product


def _customer(client: httpx.Client) -> dict[str, Any]:
    response = client.post("/v1/customers", json={"name": "Ada Lovelace", "email": f"{_unique('ada')}@example.com"})
    assert response.status_code == 201, response.text
    customer: dict[str, Any] = response.json()
    return customer


@pytest.mark.category("observability")
def test_health_and_ready(client: httpx.Client) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/ready").json() == {"status": "ready"}


@pytest.mark.category("api_design")
def test_create_and_get_a_product(client: httpx.Client) -> None:
    product = _product(client)
    assert set(product) >= {"id", "name", "sku", "price_cents", "stock", "created_at"}
    assert client.get(f"/v1/products/{product['id']}").json() == product


@pytest.mark.category("databases")
def test_place_an_order_takes_stock_and_totals(client: httpx.Client) -> None:
    product, customer = _product(client, price_cents=1890, stock=25), _customer(client)
    response = client.post("/v1/orders", json={"customer_id": customer["id"],
                                               "items": [{"product_id": product["id"], "quantity": 2}]})
    assert response.status_code == 201, response.text
    order = response.json()
    assert order["status"] == "placed" and order["total_cents"] == 3780
    assert order["items"] == [{"product_id": product["id"], "quantity": 2, "unit_price_cents": 1890,
                               "line_total_cents": 3780}]
    assert client.get(f"/v1/products/{product['id']}").json()["stock"] == 23


@pytest.mark.category("api_design")
def test_lists_are_pages(client: httpx.Client) -> None:
    _product(client)
    page = client.get("/v1/products", params={"limit": 1}).json()
    assert len(page["items"]) == 1 and "next_cursor" in page


@pytest.mark.category("api_design")
def test_unknown_order_is_a_404_with_an_error_body(client: httpx.Client) -> None:
    response = client.get("/v1/orders/999999999")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.category("databases")
def test_revenue_report_shape(client: httpx.Client) -> None:
    report = client.get("/v1/reports/revenue").json()
    assert set(report) >= {"from", "to", "total_revenue_cents", "items"}


@pytest.mark.category("observability")
def test_request_id_is_echoed(client: httpx.Client) -> None:
    assert client.get("/health", headers={"X-Request-ID": "abc-123"}).headers.get("x-request-id") == "abc-123"
