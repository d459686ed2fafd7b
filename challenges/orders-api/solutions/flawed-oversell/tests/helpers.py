"""Small helpers shared by the tests."""

from __future__ import annotations

from typing import Any

from httpx import Response

Json = dict[str, Any]


def order_body(customer: Json, *lines: tuple[Json, int]) -> Json:
    """`POST /v1/orders` body for (product, quantity) lines."""
    return {"customer_id": customer["id"],
            "items": [{"product_id": product["id"], "quantity": quantity} for product, quantity in lines]}


def error_code(response: Response) -> str:
    """The `error.code` of an error answer (and a check that the body has the API's error shape)."""
    body = response.json()
    assert set(body) == {"error"}, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return str(body["error"]["code"])
