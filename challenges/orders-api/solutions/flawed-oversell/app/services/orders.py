"""Placing, cancelling and listing orders."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import Database
from app.errors import Conflict, IdempotencyConflict, InsufficientStock, RateLimited, ValidationFailed
from app.models import Customer, Order, OrderItem, OrderStatus, Product
from app.product_cache import ProductCache, ProductSnapshot
from app.services.common import get_or_404, save
from app.state import AppState


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


async def submit_order(state: AppState, request: OrderRequest) -> Order:
    """Place an order, or replay the one placed earlier with the same Idempotency-Key and body.

    Replays take no stock and do not count against the rate limit; every other request naming a known
    customer does, whatever its outcome.
    """
    keys = state.idempotency_keys
    previous = keys.get(request.idempotency_key) if request.idempotency_key is not None else None
    if previous is not None and previous.fingerprint == request.fingerprint:
        async with state.db.session() as session:
            return await get_order(session, previous.order_id)
    async with state.db.session() as session:
        if await session.get(Customer, request.customer_id) is None:
            raise ValidationFailed(f"customer {request.customer_id} does not exist")
    retry_after = state.limiter.hit(request.customer_id)
    if retry_after is not None:
        raise RateLimited(retry_after)
    if previous is not None:
        raise IdempotencyConflict("this Idempotency-Key was used with another request body")
    order = await place_order(state.db, request, await _products_for(state.product_cache, state.db, request))
    if request.idempotency_key is not None:
        keys.remember(request.idempotency_key, order.id, request.fingerprint)
    return order


async def _products_for(cache: ProductCache, db: Database, request: OrderRequest) -> dict[int, ProductSnapshot]:
    """The products of the order, by id; ValidationFailed when one does not exist."""
    ids = [product_id for product_id, _ in request.lines]
    products = await cache.get_many(db, ids)
    missing = [product_id for product_id in ids if product_id not in products]
    if missing:
        raise ValidationFailed(f"unknown product(s): {', '.join(map(str, missing))}")
    return products


async def place_order(db: Database, request: OrderRequest, products: Mapping[int, ProductSnapshot]) -> Order:
    """Take the stock of every line, then record the order with its lines.

    Each line is checked and its stock taken before the next one, so a line without enough stock stops the
    order before it is recorded.
    """
    items = []
    for position, (product_id, quantity) in enumerate(request.lines):
        product = products[product_id]
        if product.stock < quantity:
            raise InsufficientStock(
                f"not enough stock for product {product_id}: {quantity} asked, {product.stock} available"
            )
        await take_stock(db, product_id, quantity)
        items.append(OrderItem(product_id=product_id, position=position, quantity=quantity,
                               unit_price_cents=product.price_cents,
                               line_total_cents=quantity * product.price_cents))
    order = Order(customer_id=request.customer_id, status=OrderStatus.PLACED.value, items=items,
                  total_cents=sum(item.line_total_cents for item in items))
    return await save(db, order)


async def take_stock(db: Database, product_id: int, quantity: int) -> None:
    """Take `quantity` units of a product out of stock (the caller has checked there are enough)."""
    async with db.session() as session:
        product = await get_or_404(session, Product, product_id, "product")
        product.stock -= quantity
        await session.commit()


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
