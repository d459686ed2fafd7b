"""Helpers shared by the test modules."""

from __future__ import annotations

from typing import Any


def order_body(customer: dict[str, Any], *lines: tuple[dict[str, Any], int]) -> dict[str, Any]:
    """The body of POST /v1/orders for (product, quantity) lines."""
    return {"customer_id": customer["id"],
            "items": [{"product_id": product["id"], "quantity": quantity} for product, quantity in lines]}
