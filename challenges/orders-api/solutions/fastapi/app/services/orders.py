"""Placing, cancelling and listing orders."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import Database, transactional
from app.errors import Conflict, IdempotencyConflict, InsufficientStock, RateLimited, ValidationFailed
from app.models import Customer, Order, OrderItem, OrderStatus, Product
from app.ratelimit import SlidingWindowLimiter
from app.schemas import MAX_INT
from app.services.common import get_or_404


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


async def submit_order(db: Database, limiter: SlidingWindowLimiter, request: OrderRequest) -> Order:
    """Place an order, or replay the one placed earlier with the same Idempotency-Key and body.

    Replays take no stock and do not count against the rate limit; every other request naming a known
    customer does, whatever its outcome.
    """
    previous = await _order_with_key(db, request.idempotency_key)
    if previous is not None and previous.request_fingerprint == request.fingerprint:
        return previous
    async with db.reading() as session:
        await _known_customer(session, request.customer_id)
    retry_after = limiter.hit(request.customer_id)
    if retry_after is not None:
        raise RateLimited(retry_after)
    if previous is not None:
        raise IdempotencyConflict("this Idempotency-Key was used with another request body")
    try:
        return await place_order(db, request)
    except IntegrityError:
        # Two requests with one new key ran side by side and the other committed first (UNIQUE on the
        # key): this one rolled back, stock included, and answers with the order the other created.
        earlier = await _order_with_key(db, request.idempotency_key)
        if earlier is None:
            raise
        return _replayed(earlier, request)


async def _order_with_key(db: Database, key: str | None) -> Order | None:
    if key is None:
        return None
    async with db.reading() as session:
        order: Order | None = await session.scalar(select(Order).where(Order.idempotency_key == key))
    return order


async def _known_customer(session: AsyncSession, customer_id: int) -> None:
    if await session.get(Customer, customer_id) is None:
        raise ValidationFailed(f"customer {customer_id} does not exist")


@transactional
async def place_order(session: AsyncSession, request: OrderRequest) -> Order:
    """Take the stock of every line and record the order, all in one transaction.

    Stock is taken with `UPDATE ... SET stock = stock - q WHERE id = ? AND stock >= q`: a line that
    matches no row has too little stock, and the exception rolls every line back. On PostgreSQL the UPDATE
    locks the product row until the transaction ends, so a concurrent order for the same product waits and
    then re-checks `stock >= q` against the committed value: no lost update, no oversell. Lines are taken
    in product id order, so two orders for the same products never wait for each other in a cycle.
    """
    if request.idempotency_key is not None:  # a request with the same key may have committed meanwhile
        earlier = await session.scalar(select(Order).where(Order.idempotency_key == request.idempotency_key))
        if earlier is not None:
            return _replayed(earlier, request)
    await _known_customer(session, request.customer_id)
    products = await _products_for(session, request)
    items = [
        OrderItem(product_id=product_id, position=position, quantity=quantity,
                  unit_price_cents=products[product_id].price_cents,
                  line_total_cents=quantity * products[product_id].price_cents)
        for position, (product_id, quantity) in enumerate(request.lines)
    ]
    total_cents = sum(item.line_total_cents for item in items)
    if total_cents > MAX_INT:
        raise ValidationFailed(f"the order total ({total_cents} cents) does not fit in a 64-bit integer")
    for product_id, quantity in sorted(request.lines):
        await _take_stock(session, products[product_id], quantity)
    order = Order(customer_id=request.customer_id, status=OrderStatus.PLACED.value, items=items,
                  total_cents=total_cents, idempotency_key=request.idempotency_key,
                  request_fingerprint=request.fingerprint if request.idempotency_key else None)
    session.add(order)
    await session.flush()
    return order


def _replayed(order: Order, request: OrderRequest) -> Order:
    if order.request_fingerprint != request.fingerprint:
        raise IdempotencyConflict("this Idempotency-Key was used with another request body")
    return order


async def _products_for(session: AsyncSession, request: OrderRequest) -> dict[int, Product]:
    ids = [product_id for product_id, _ in request.lines]
    found = {product.id: product for product in await session.scalars(select(Product).where(Product.id.in_(ids)))}
    missing = [product_id for product_id in ids if product_id not in found]
    if missing:
        raise ValidationFailed(f"unknown product(s): {', '.join(map(str, missing))}")
    return found


async def _take_stock(session: AsyncSession, product: Product, quantity: int) -> None:
    taken = await session.execute(
        update(Product)
        .where(Product.id == product.id, Product.stock >= quantity)
        .values(stock=Product.stock - quantity)
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:
        raise InsufficientStock(
            f"not enough stock for product {product.id}: {quantity} asked, {product.stock} available"
        )


@transactional
async def cancel_order(session: AsyncSession, order_id: int) -> Order:
    """Cancel a placed order and put its quantities back in stock; Conflict when already cancelled."""
    order = await get_or_404(session, Order, order_id, "order", lock=True)  # one of two cancels waits here
    if order.status == OrderStatus.CANCELLED:
        raise Conflict(f"order {order_id} is already cancelled")
    for item in sorted(order.items, key=lambda line: line.product_id):  # the lock order of place_order
        await session.execute(
            update(Product)
            .where(Product.id == item.product_id)
            .values(stock=Product.stock + item.quantity)
            .execution_options(synchronize_session=False)
        )
    order.status = OrderStatus.CANCELLED.value
    await session.flush()
    return order


async def get_order(session: AsyncSession, order_id: int) -> Order:
    """One order with its lines, or NotFound."""
    return await get_or_404(session, Order, order_id, "order")


async def list_orders(session: AsyncSession, filters: OrderFilters, after_id: int, limit: int) -> Sequence[Order]:
    """Up to `limit` orders matching `filters` with an id above `after_id`, by id."""
    query = select(Order).where(Order.id > after_id, *filters.conditions()).order_by(Order.id).limit(limit)
    return (await session.scalars(query)).all()
