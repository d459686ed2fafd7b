"""The revenue report, aggregated by the database in one query."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, desc, func, select

from app.db import Database
from app.models import Order, OrderItem, Product


@dataclass(frozen=True, slots=True)
class ProductRevenue:
    """What one product sold in the period."""

    product_id: int
    sku: str
    name: str
    units_sold: int
    revenue_cents: int


def revenue_statement(start: datetime | None, end: datetime | None) -> Select[int, str, str, int, int]:
    """Order lines in `[start, end)`, joined to their products and grouped per product."""
    revenue = func.sum(OrderItem.line_total_cents).label("revenue_cents")
    statement = (
        select(Product.id, Product.sku, Product.name, func.sum(OrderItem.quantity).label("units_sold"), revenue)
        .select_from(OrderItem)
        .join(Order, Order.id == OrderItem.order_id)
        .join(Product, Product.id == OrderItem.product_id)
        .group_by(Product.id, Product.sku, Product.name)
        .order_by(desc(revenue), Product.id)
    )
    if start is not None:
        statement = statement.where(Order.created_at >= start)
    if end is not None:
        statement = statement.where(Order.created_at < end)
    return statement


def revenue_by_product(db: Database, start: datetime | None, end: datetime | None) -> list[ProductRevenue]:
    """One row per product sold in the period, best sellers first."""
    with db.session() as session:
        rows = session.execute(revenue_statement(start, end)).all()
    return [ProductRevenue(int(pid), sku, name, int(units), int(cents)) for pid, sku, name, units, cents in rows]
