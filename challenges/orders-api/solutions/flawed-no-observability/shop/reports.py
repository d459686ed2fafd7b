"""The revenue report, computed by the database in one query (join + GROUP BY)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import F, Sum

from shop.models import Order, OrderItem


def revenue_rows(start: datetime | None, end: datetime | None) -> list[dict[str, Any]]:
    """Units and revenue per product over placed orders with start <= created_at < end.

    One SELECT: order_items JOIN orders JOIN products, GROUP BY product, ORDER BY revenue DESC, product id.
    """
    lines = OrderItem.objects.filter(order__status=Order.Status.PLACED)
    if start is not None:
        lines = lines.filter(order__created_at__gte=start)
    if end is not None:
        lines = lines.filter(order__created_at__lt=end)
    grouped = (
        lines.values("product_id", sku=F("product__sku"), name=F("product__name"))
        .annotate(units_sold=Sum("quantity"), revenue_cents=Sum("line_total_cents"))
        .order_by("-revenue_cents", "product_id")
    )
    return [
        {"product_id": row["product_id"], "sku": row["sku"], "name": row["name"],
         "units_sold": row["units_sold"], "revenue_cents": row["revenue_cents"]}
        for row in grouped
    ]
