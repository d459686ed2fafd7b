"""`/v1/orders`: place (idempotent, rate limited), read, list, cancel."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from app.api.common import created, query_positive_int, query_timestamp, read_json
from app.errors import RateLimited, ValidationFailed
from app.models import ORDER_STATUSES, Order
from app.schemas import MAX_ID, OrderCreate, parse_body
from app.serializers import order_json
from app.services import catalog, orders
from app.state import AppState, app_state

bp = Blueprint("orders", __name__, url_prefix="/v1")

IDEMPOTENCY_HEADER = "Idempotency-Key"
MAX_IDEMPOTENCY_KEY = 255


@bp.post("/orders")
def create_order() -> Response:
    """Place an order.

    In this order: a replay of an earlier request with the same `Idempotency-Key` answers at once (and
    is not rate limited); then the rate limit counts the request if it names a known customer; then
    the body is validated and the order placed in one transaction.
    """
    state = app_state()
    payload = read_json()
    idempotency = _idempotency_request(payload)
    replay = orders.find_replay(state.db, idempotency) if idempotency is not None else None
    if replay is not None:
        return _placed(replay)
    _enforce_rate_limit(state, payload)
    return _placed(orders.place_order(state.db, parse_body(OrderCreate, payload), idempotency))


def _placed(placed: orders.PlacedOrder) -> Response:
    order = placed.order
    return created(_order_json(order), f"/v1/orders/{order.id}", placed.status_code)


def _order_json(order: Order) -> dict[str, Any]:
    return order_json(order, orders.order_lines(app_state().db, order.id))


def _idempotency_request(payload: Any) -> orders.IdempotencyRequest | None:
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        return None
    if not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY:
        raise ValidationFailed(f"{IDEMPOTENCY_HEADER} must be 1 to {MAX_IDEMPOTENCY_KEY} characters",
                               details={"header": IDEMPOTENCY_HEADER})
    return orders.IdempotencyRequest.for_body(key, payload)


def _enforce_rate_limit(state: AppState, payload: Any) -> None:
    """Count this request against its customer's limit when it names a known customer, valid body or not."""
    customer_id = payload.get("customer_id") if isinstance(payload, dict) else None
    if type(customer_id) is not int or not 1 <= customer_id <= MAX_ID:
        return
    if not catalog.customer_exists(state.db, customer_id):
        return
    retry_after = state.order_limiter.hit(customer_id)
    if retry_after is not None:
        raise RateLimited(f"too many orders for customer {customer_id}: at most "
                          f"{state.order_limiter.limit} per minute", retry_after)


@bp.get("/orders/<id:order_id>")
def get_order(order_id: int) -> Response:
    """One order."""
    return jsonify(_order_json(orders.get_order(app_state().db, order_id)))


@bp.post("/orders/<id:order_id>/cancel")
def cancel_order(order_id: int) -> Response:
    """Cancel a placed order and put its stock back (409 when it is already cancelled)."""
    return jsonify(_order_json(orders.cancel_order(app_state().db, order_id)))


@bp.get("/orders")
def list_orders() -> Response:
    """A page of orders, filtered by status, customer and creation time."""
    state = app_state()
    page_request = state.cursors.page_request("orders", request.args)
    page = orders.list_orders(state.db, _order_filters(), page_request)
    return jsonify({"items": [_order_json(order) for order in page.items],
                    "next_cursor": state.cursors.next_cursor("orders", page)})


def _order_filters() -> orders.OrderFilters:
    status = request.args.get("status")
    if status is not None and status not in ORDER_STATUSES:
        raise ValidationFailed(f"status must be one of {', '.join(ORDER_STATUSES)}", details={"field": "status"})
    return orders.OrderFilters(
        status=status,
        customer_id=query_positive_int(request.args, "customer_id"),
        created_from=query_timestamp(request.args, "created_from"),
        created_to=query_timestamp(request.args, "created_to"),
    )
