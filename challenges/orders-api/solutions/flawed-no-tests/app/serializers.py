"""Models as the JSON the API answers with."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from app.models import Customer, Order, OrderItem, Product
from app.services.reports import ProductRevenue
from app.timeutil import to_iso


def product_json(product: Product) -> dict[str, Any]:
    """A product."""
    return {"id": product.id, "name": product.name, "sku": product.sku, "price_cents": product.price_cents,
            "stock": product.stock, "created_at": to_iso(product.created_at)}


def customer_json(customer: Customer) -> dict[str, Any]:
    """A customer."""
    return {"id": customer.id, "name": customer.name, "email": customer.email,
            "created_at": to_iso(customer.created_at)}


def order_item_json(item: OrderItem) -> dict[str, Any]:
    """One line of an order."""
    return {"product_id": item.product_id, "quantity": item.quantity, "unit_price_cents": item.unit_price_cents,
            "line_total_cents": item.line_total_cents}


def order_json(order: Order, lines: Sequence[OrderItem]) -> dict[str, Any]:
    """An order with its lines."""
    return {"id": order.id, "customer_id": order.customer_id, "status": order.status,
            "total_cents": order.total_cents, "items": [order_item_json(item) for item in lines],
            "created_at": to_iso(order.created_at)}


def revenue_item_json(row: ProductRevenue) -> dict[str, Any]:
    """One product of the revenue report."""
    return {"product_id": row.product_id, "sku": row.sku, "name": row.name, "units_sold": row.units_sold,
            "revenue_cents": row.revenue_cents}
