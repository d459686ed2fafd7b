"""Helpers the hidden suite shares: unique test data and assertions on the contract's shapes.

Plain functions, not fixtures: the suite's only fixtures are the grader's (`client`, `base_url`, `app_log`,
`restart_app`). Every test makes its own products and customers with unique SKUs and emails, so tests do
not depend on each other or on their order.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx

ERROR_CODES = {
    "not_found", "validation_error", "conflict", "insufficient_stock", "idempotency_conflict",
    "rate_limited", "method_not_allowed", "internal_error",
}
ORDERS_PER_MINUTE = 20  # challenge.toml gives the app ORDERS_PER_MINUTE=20 (the README's default is 30)


def unique(prefix: str) -> str:
    """A short unique token, e.g. for SKUs and emails."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def make_product(client: httpx.Client, price_cents: int = 1000, stock: int = 100, **overrides: Any) -> dict[str, Any]:
    """Create a product and return it; fails the test when the API refuses."""
    body = {"name": f"Product {unique('n')}", "sku": unique("SKU"), "price_cents": price_cents, "stock": stock}
    body.update(overrides)
    response = client.post("/v1/products", json=body)
    assert response.status_code == 201, f"creating a product answered {response.status_code}: {response.text[:300]}"
    product: dict[str, Any] = response.json()
    return product


def make_customer(client: httpx.Client) -> dict[str, Any]:
    """Create a customer with a unique email and return it."""
    body = {"name": "Grace Hopper", "email": f"{unique('c')}@example.com"}
    response = client.post("/v1/customers", json=body)
    assert response.status_code == 201, f"creating a customer answered {response.status_code}: {response.text[:300]}"
    customer: dict[str, Any] = response.json()
    return customer


def order_body(customer: dict[str, Any], *lines: tuple[dict[str, Any], int]) -> dict[str, Any]:
    """The body of POST /v1/orders for (product, quantity) lines."""
    return {"customer_id": customer["id"],
            "items": [{"product_id": product["id"], "quantity": quantity} for product, quantity in lines]}


def place_order(client: httpx.Client, customer: dict[str, Any], *lines: tuple[dict[str, Any], int],
                headers: dict[str, str] | None = None) -> dict[str, Any]:
    """Place an order that must succeed; return it."""
    response = client.post("/v1/orders", json=order_body(customer, *lines), headers=headers or {})
    assert response.status_code == 201, f"placing an order answered {response.status_code}: {response.text[:300]}"
    order: dict[str, Any] = response.json()
    return order


def stock_of(client: httpx.Client, product: dict[str, Any]) -> int:
    """The product's current stock, read back through the API."""
    response = client.get(f"/v1/products/{product['id']}")
    assert response.status_code == 200, response.text[:300]
    stock: int = response.json()["stock"]
    return stock


def assert_error(response: httpx.Response, status: int | tuple[int, ...], code: str | None = None) -> dict[str, Any]:
    """The response has one of the statuses and the contract's error body (with `code` when given)."""
    allowed = status if isinstance(status, tuple) else (status,)
    assert response.status_code in allowed, (
        f"expected {' or '.join(map(str, allowed))}, got {response.status_code}: {response.text[:300]}")
    assert "json" in response.headers.get("content-type", ""), (
        f"error body is not JSON (content-type {response.headers.get('content-type')!r}): {response.text[:200]}")
    body = response.json()
    assert isinstance(body, dict) and isinstance(body.get("error"), dict), (
        f'error body is not {{"error": {{"code": ..., "message": ...}}}}: {response.text[:300]}')
    error: dict[str, Any] = body["error"]
    assert error.get("code") in ERROR_CODES, f"error code {error.get('code')!r} is not one of the contract's codes"
    assert isinstance(error.get("message"), str) and error["message"], "error message missing or empty"
    if code is not None:
        assert error["code"] == code, f"expected error code {code!r}, got {error['code']!r}"
    return error


def parse_timestamp(value: Any) -> datetime:
    """An ISO 8601 timestamp with an offset or Z, as an aware datetime."""
    assert isinstance(value, str), f"timestamp is not a string: {value!r}"
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    assert parsed.tzinfo is not None, f"timestamp {value!r} has no offset or Z"
    return parsed


def iso(moment: datetime) -> str:
    """A UTC timestamp as the contract writes it."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def all_pages(client: httpx.Client, path: str, params: dict[str, Any], max_pages: int = 300) -> list[dict[str, Any]]:
    """Follow `next_cursor` from the first page to the last; return every item in order."""
    items: list[dict[str, Any]] = []
    query = dict(params)
    for _ in range(max_pages):
        response = client.get(path, params=query)
        assert response.status_code == 200, f"{path} answered {response.status_code}: {response.text[:300]}"
        page = response.json()
        assert set(page) >= {"items", "next_cursor"}, f"a page has no items/next_cursor: {sorted(page)}"
        items.extend(page["items"])
        if page["next_cursor"] is None:
            return items
        query = {**params, "cursor": page["next_cursor"]}
    raise AssertionError(f"{path} still had a next page after {max_pages} pages")
