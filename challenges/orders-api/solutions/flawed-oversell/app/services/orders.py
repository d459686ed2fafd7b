"""Placing, cancelling and listing orders."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import Database
from app.errors import Conflict, IdempotencyConflict, InsufficientStock, RateLimited, ValidationFailed
from app.idempotency import IdempotencyStore
from app.models import Customer, Order, OrderItem, OrderStatus, Product
from app.ratelimit import SlidingWindowLimiter
from app.services.common import get_or_404, save


@dataclass(frozen=True)
class OrderRequest:
    """A validated `POST /v1/orders`: the lines, and the Idempotency-Key with the body's fingerprint."""

    customer_id: int
    lines: tuple[tuple[int, int], ...]  # (product_id, quantity), in the order the client sent them
    idempotency_key: str | None = None

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the canonical body: two requests with the same key must carry the same one."""
        body = {"customer_id": self.customer_id, "items": [list(line) for line in self.lines]}
        return hashlib.sha256(json.dumps(body, separators=(",", ":")).encode()).hexdigest()


@dataclass(frozen=True)
class OrderFilters:
    """The filters of `GET /v1/orders`; a period is `created_from <= created_at < created_to` (naive UTC)."""

    status: OrderStatus | None = None
    customer_id: int | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        """SQL conditions for the filters that are set."""
        conditions: list[ColumnElement[bool]] = []
        if self.status is not None:
            conditions.append(Order.status == self.status.value)
        if self.customer_id is not None:
            conditions.append(Order.customer_id == self.customer_id)
        if self.created_from is not None:
            conditions.append(Order.created_at >= self.created_from)
        if self.created_to is not None:
            conditions.append(Order.created_at < self.created_to)
        return conditions


async def submit_order(
    db: Database, limiter: SlidingWindowLimiter, keys: IdempotencyStore, request: OrderRequest
) -> Order:
    """Place an order, or replay the one placed earlier with the same Idempotency-Key and body.

    Replays take no stock and do not count against the rate limit; every other request naming a known
    customer does, whatever its outcome.
    """
    previous = keys.get(request.idempotency_key) if request.idempotency_key is not None else None
    if previous is not None and previous.fingerprint == request.fingerprint:
        async with db.session() as session:
            return await get_order(session, previous.order_id)
    async with db.session() as session:
        products = await _products_for(session, request)
        customer = await session.get(Customer, request.customer_id)
    if customer is None:
        raise ValidationFailed(f"customer {request.customer_id} does not exist")
    retry_after = limiter.hit(request.customer_id)
    if retry_after is not None:
        raise RateLimited(retry_after)
    if previous is not None:
        raise IdempotencyConflict("this Idempotency-Key was used with another request body")
    missing = [product_id for product_id, _ in request.lines if product_id not in products]
    if missing:
        raise ValidationFailed(f"unknown product(s): {', '.join(map(str, missing))}")
    order = await place_order(db, request, products)
    if request.idempotency_key is not None:
        keys.remember(request.idempotency_key, order.id, request.fingerprint)
    return order


async def _products_for(session: AsyncSession, request: OrderRequest) -> dict[int, Product]:
    """The products the order names, by id (unknown ids are simply absent)."""
    ids = [product_id for product_id, _ in request.lines]
    return {product.id: product for product in await session.scalars(select(Product).where(Product.id.in_(ids)))}


async def place_order(db: Database, request: OrderRequest, products: dict[int, Product]) -> Order:
    """Take the stock of every line, then record the order with its lines.

    Each line's stock is checked and saved before the next one, so a line without enough stock stops the
    order before it is recorded.
    """
    items = []
    for position, (product_id, quantity) in enumerate(request.lines):
        product = products[product_id]
        if product.stock < quantity:
            raise InsufficientStock(
                f"not enough stock for product {product.id}: {quantity} asked, {product.stock} available"
            )
        product.stock -= quantity
        await save(db, product)
        items.append(OrderItem(product_id=product_id, position=position, quantity=quantity,
                               unit_price_cents=product.price_cents,
                               line_total_cents=quantity * product.price_cents))
    order = Order(customer_id=request.customer_id, status=OrderStatus.PLACED.value, items=items,
                  total_cents=sum(item.line_total_cents for item in items))
    return await save(db, order)


async def cancel_order(db: Database, order_id: int) -> Order:
    """Cancel a placed order and put its quantities back in stock; Conflict when already cancelled."""
    async with db.session() as session:
        order = await get_or_404(session, Order, order_id, "order")
        if order.status == OrderStatus.CANCELLED:
            raise Conflict(f"order {order_id} is already cancelled")
        for item in order.items:
            product = await get_or_404(session, Product, item.product_id, "product")
            product.stock += item.quantity
        order.status = OrderStatus.CANCELLED.value
        await session.commit()
    return order


async def get_order(session: AsyncSession, order_id: int) -> Order:
    """One order with its lines, or NotFound."""
    return await get_or_404(session, Order, order_id, "order")


async def list_orders(session: AsyncSession, filters: OrderFilters, after_id: int, limit: int) -> Sequence[Order]:
    """Up to `limit` orders matching `filters` with an id above `after_id`, by id."""
    query = select(Order).where(Order.id > after_id, *filters.conditions()).order_by(Order.id).limit(limit)
    return (await session.scalars(query)).all()
