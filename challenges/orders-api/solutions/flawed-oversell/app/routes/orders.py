"""`/v1/orders`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query

from app.models import Order, OrderStatus
from app.params import PageParams, page_params, parse_timestamp
from app.routes.common import error_responses as errors
from app.schemas import MAX_INT, OrderCreate, OrderOut, Page
from app.services import orders
from app.services.orders import OrderFilters, OrderRequest
from app.state import State

router = APIRouter(prefix="/v1/orders", tags=["orders"])
SCOPE = "orders"


def order_filters(
    status: Annotated[OrderStatus | None, Query()] = None,
    customer_id: Annotated[int | None, Query(ge=1, le=MAX_INT)] = None,
    created_from: Annotated[str | None, Query(description="ISO 8601; inclusive.")] = None,
    created_to: Annotated[str | None, Query(description="ISO 8601; exclusive.")] = None,
) -> OrderFilters:
    """FastAPI dependency: the filters of the order list."""
    return OrderFilters(
        status=status,
        customer_id=customer_id,
        created_from=parse_timestamp(created_from, "created_from"),
        created_to=parse_timestamp(created_to, "created_to"),
    )


@router.post("", status_code=201, response_model=OrderOut, responses=errors(409, 422, 429))
async def create_order(
    payload: OrderCreate,
    state: State,
    idempotency_key: Annotated[str | None, Header(min_length=1, max_length=255)] = None,
) -> Order:
    """Place an order: all lines take their stock, or nothing changes.

    With an `Idempotency-Key`, repeating the request returns the same order without taking stock again.
    """
    request = OrderRequest(
        customer_id=payload.customer_id,
        lines=tuple((line.product_id, line.quantity) for line in payload.items),
        idempotency_key=idempotency_key,
    )
    return await orders.submit_order(state, request)


@router.get("", response_model=Page[OrderOut], responses=errors(422))
async def list_orders(
    state: State,
    page: Annotated[PageParams, Depends(page_params)],
    filters: Annotated[OrderFilters, Depends(order_filters)],
) -> dict[str, Any]:
    """Orders by id, filtered, a page at a time."""
    after = state.cursors.decode(SCOPE, page.cursor) if page.cursor is not None else 0
    async with state.db.session() as session:
        rows = await orders.list_orders(session, filters, after, page.limit + 1)
    return state.cursors.page(SCOPE, rows, page.limit)


@router.get("/{order_id}", response_model=OrderOut, responses=errors(404))
async def get_order(order_id: int, state: State) -> Order:
    """One order with its lines."""
    async with state.db.session() as session:
        return await orders.get_order(session, order_id)


@router.post("/{order_id}/cancel", response_model=OrderOut, responses=errors(404, 409))
async def cancel_order(order_id: int, state: State) -> Order:
    """Cancel an order and put its quantities back in stock."""
    return await orders.cancel_order(state.db, order_id)
