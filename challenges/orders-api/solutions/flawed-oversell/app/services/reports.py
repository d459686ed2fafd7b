"""The revenue report."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Order, OrderStatus, Product
from app.schemas import RevenueLine
from app.services.common import get_or_404


async def revenue_by_product(
    session: AsyncSession, start: datetime | None, end: datetime | None
) -> list[RevenueLine]:
    """Units and revenue per product over placed orders with `start <= created_at < end`.

    Goes through the placed orders of the period line by line and adds up each product's units and
    revenue; products nobody bought in the period are left out.
    """
    query = select(Order).where(Order.status == OrderStatus.PLACED.value).order_by(Order.id)
    if start is not None:
        query = query.where(Order.created_at >= start)
    if end is not None:
        query = query.where(Order.created_at < end)
    lines: dict[int, RevenueLine] = {}
    for order in (await session.scalars(query)).all():
        for item in order.items:
            line = lines.get(item.product_id)
            if line is None:
                product = await get_or_404(session, Product, item.product_id, "product")
                line = lines[item.product_id] = RevenueLine(product_id=product.id, sku=product.sku,
                                                            name=product.name, units_sold=0, revenue_cents=0)
            line.units_sold += item.quantity
            line.revenue_cents += item.line_total_cents
    return sorted(lines.values(), key=lambda line: (-line.revenue_cents, line.product_id))
