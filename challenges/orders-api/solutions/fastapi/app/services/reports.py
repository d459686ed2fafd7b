"""The revenue report, aggregated by the database."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import desc, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Order, OrderItem, OrderStatus, Product
from app.schemas import RevenueLine


async def revenue_by_product(
    session: AsyncSession, start: datetime | None, end: datetime | None
) -> list[RevenueLine]:
    """Units and revenue per product over placed orders with `start <= created_at < end`.

    One query: order lines joined to their orders and products, grouped by product, so only one row
    per product sold leaves the database.
    """
    units = func.sum(OrderItem.quantity).label("units_sold")
    revenue = func.sum(OrderItem.line_total_cents).label("revenue_cents")
    query = (
        select(Product.id.label("product_id"), Product.sku, Product.name, units, revenue)
        .select_from(OrderItem)
        .join(Order, Order.id == OrderItem.order_id)
        .join(Product, Product.id == OrderItem.product_id)
        .where(Order.status == OrderStatus.PLACED.value)
        .group_by(Product.id, Product.sku, Product.name)
        .order_by(desc(revenue), Product.id)
    )
    if start is not None:
        query = query.where(Order.created_at >= start)
    if end is not None:
        query = query.where(Order.created_at < end)
    rows = (await session.execute(query)).all()
    # PostgreSQL's SUM of a BIGINT is a NUMERIC (it cannot overflow): back to exact Python ints.
    return [RevenueLine(product_id=product_id, sku=sku, name=name, units_sold=int(units), revenue_cents=int(cents))
            for product_id, sku, name, units, cents in rows]
