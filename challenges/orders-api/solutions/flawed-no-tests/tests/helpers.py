"""Small builders the tests share."""

from __future__ import annotations

import itertools
from typing import Any

from flask.testing import FlaskClient

_counter = itertools.count(1)


def make_product(client: FlaskClient, **overrides: Any) -> dict[str, Any]:
    """Create a product (unique SKU) and return its JSON."""
    body = {"name": "Coffee beans 1kg", "sku": f"COF-{next(_counter)}", "price_cents": 1890, "stock": 25}
    body.update(overrides)
    response = client.post("/v1/products", json=body)
    assert response.status_code == 201, response.get_data(as_text=True)
    product: dict[str, Any] = response.get_json()
    return product


def make_customer(client: FlaskClient, email: str | None = None) -> dict[str, Any]:
    """Create a customer (unique email unless given) and return its JSON."""
    response = client.post("/v1/customers", json={"name": "Ada Lovelace",
                                                  "email": email or f"ada{next(_counter)}@example.com"})
    assert response.status_code == 201, response.get_data(as_text=True)
    customer: dict[str, Any] = response.get_json()
    return customer


def order_body(customer: dict[str, Any], *lines: tuple[dict[str, Any], int]) -> dict[str, Any]:
    """The body of `POST /v1/orders` for (product, quantity) lines."""
    return {"customer_id": customer["id"],
            "items": [{"product_id": product["id"], "quantity": quantity} for product, quantity in lines]}


def place_order(client: FlaskClient, customer: dict[str, Any], *lines: tuple[dict[str, Any], int]) -> dict[str, Any]:
    """Place an order that must succeed and return its JSON."""
    response = client.post("/v1/orders", json=order_body(customer, *lines))
    assert response.status_code == 201, response.get_data(as_text=True)
    order: dict[str, Any] = response.get_json()
    return order


def stock_of(client: FlaskClient, product: dict[str, Any]) -> int:
    """A product's current stock, read through the API."""
    stock: int = client.get(f"/v1/products/{product['id']}").get_json()["stock"]
    return stock


def error_code(response: Any) -> str:
    """The `error.code` of an error answer (and check its shape on the way)."""
    body = response.get_json()
    assert set(body) == {"error"} and body["error"]["message"], body
    code: str = body["error"]["code"]
    return code
