"""`/v1/reports`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app.params import parse_timestamp
from app.routes.common import error_responses as errors
from app.schemas import RevenueReport
from app.services.reports import revenue_by_product
from app.state import State

router = APIRouter(prefix="/v1/reports", tags=["reports"])


@router.get("/revenue", response_model=RevenueReport, responses=errors(422))
async def revenue(
    state: State,
    start: Annotated[str | None, Query(alias="from", description="ISO 8601; inclusive.")] = None,
    end: Annotated[str | None, Query(alias="to", description="ISO 8601; exclusive.")] = None,
) -> RevenueReport:
    """Units and revenue per product over placed orders created in the period."""
    period_start, period_end = parse_timestamp(start, "from"), parse_timestamp(end, "to")
    async with state.db.session() as session:
        lines = await revenue_by_product(session, period_start, period_end)
    return RevenueReport(
        from_=period_start,
        to=period_end,
        total_revenue_cents=sum(line.revenue_cents for line in lines),
        items=lines,
    )
