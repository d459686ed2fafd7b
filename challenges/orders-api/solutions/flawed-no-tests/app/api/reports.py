"""`/v1/reports/revenue`."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from app.api.common import query_timestamp
from app.serializers import revenue_item_json
from app.services.reports import revenue_by_product
from app.state import app_state
from app.timeutil import to_iso

bp = Blueprint("reports", __name__, url_prefix="/v1/reports")


@bp.get("/revenue")
def revenue() -> Response:
    """Revenue of placed orders created in `[from, to)`, per product, best sellers first."""
    start = query_timestamp(request.args, "from")
    end = query_timestamp(request.args, "to")
    rows = revenue_by_product(app_state().db, start, end)
    return jsonify({
        "from": to_iso(start) if start is not None else None,
        "to": to_iso(end) if end is not None else None,
        "total_revenue_cents": sum(row.revenue_cents for row in rows),
        "items": [revenue_item_json(row) for row in rows],
    })
