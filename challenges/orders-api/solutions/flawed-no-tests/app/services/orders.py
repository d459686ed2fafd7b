"""Placing, cancelling and listing orders.

Stock is taken with one conditional UPDATE per line (`stock = stock - q WHERE stock >= q`), all in one
transaction: a line either gets its units or the statement changes no row, and any short line rolls the
whole order back. On PostgreSQL the UPDATE locks the product row until the transaction ends; a concurrent
order for the same product waits, then re-evaluates `stock >= q` against the committed row (READ
COMMITTED), so nothing is lost. Nothing is read first and written later on the basis of what was read, so
concurrent orders can never oversell. Lines are taken in product id order, so two orders that share
products lock them in the same order and cannot deadlock.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Select, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.db import Database
from app.errors import IdempotencyConflict, InsufficientStock, NotFound, ValidationFailed
from app.models import ORDER_CANCELLED, ORDER_PLACED, Customer, IdempotencyRecord, Order, OrderItem, Product
from app.pagination import Page, PageRequest, fetch_page
from app.schemas import MAX_ID, OrderCreate, OrderLine
from app.timeutil import utcnow

CREATED = 201
REPLAYED = 200  # a replay creates nothing, so it is a plain 200 OK


@dataclass(frozen=True, slots=True)
class IdempotencyRequest:
    """An `Idempotency-Key` and the fingerprint of the body it came with."""

    key: str
    request_hash: str

    @classmethod
    def for_body(cls, key: str, payload: Any) -> IdempotencyRequest:
        """Fingerprint the parsed body: the same JSON with keys in another order is the same body."""
        canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return cls(key, hashlib.sha256(canonical.encode()).hexdigest())


@dataclass(frozen=True, slots=True)
class OrderFilters:
    """The filters of `GET /v1/orders`; `created_from <= created_at < created_to`."""

    status: str | None = None
    customer_id: int | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None

    def apply(self, statement: Select[Order]) -> Select[Order]:
        """`statement` restricted to the orders these filters select."""
        if self.customer_id is not None:
            statement = statement.where(Order.customer_id == self.customer_id)
        if self.created_from is not None:
            statement = statement.where(Order.created_at >= self.created_from)
        if self.created_to is not None:
            statement = statement.where(Order.created_at < self.created_to)
        return statement


@dataclass(frozen=True, slots=True)
class PlacedOrder:
    """An order and the status its creation answered (a replay answers the same)."""

    order: Order
    status_code: int = CREATED


def find_replay(db: Database, request: IdempotencyRequest) -> PlacedOrder | None:
    """What an earlier request with this key created; IdempotencyConflict if its body differed."""
    with db.session() as session:
        record = session.get(IdempotencyRecord, request.key)
        if record is None:
            return None
        if record.request_hash != request.request_hash:
            raise IdempotencyConflict("this Idempotency-Key was already used with a different body")
        return PlacedOrder(session.get_one(Order, record.order_id), REPLAYED)


def place_order(db: Database, data: OrderCreate, idempotency: IdempotencyRequest | None = None) -> PlacedOrder:
    """Check and take the stock of every line and record the order, all in one transaction."""
    try:
        with db.transaction() as session:
            order = _place(session, data)
            if idempotency is not None:
                session.add(IdempotencyRecord(key=idempotency.key, request_hash=idempotency.request_hash,
                                              order_id=order.id))
    except IntegrityError:
        # A concurrent request with the same key won the race: this one rolled back and replays it.
        replay = find_replay(db, idempotency) if idempotency is not None else None
        if replay is None:
            raise
        return replay
    return PlacedOrder(order)


def _place(session: Session, data: OrderCreate) -> Order:
    products = _referenced_products(session, data)
    by_product = sorted(data.items, key=lambda line: line.product_id)  # one lock order for every order
    short = [line for line in by_product if not _take_stock(session, line)]
    if short:
        raise InsufficientStock("not enough stock for this order", details=_shortages(session, short))
    order = Order(customer_id=data.customer_id, status=ORDER_PLACED, created_at=utcnow(),
                  items=[_line(products[line.product_id], line) for line in data.items])
    order.total_cents = sum(item.line_total_cents for item in order.items)
    if order.total_cents > MAX_ID:
        raise ValidationFailed("the order total is too large", details={"field": "items"})
    session.add(order)
    session.flush()
    return order


def _referenced_products(session: Session, data: OrderCreate) -> dict[int, Product]:
    """The order's products by id; ValidationFailed (422) when the customer or a product does not exist."""
    if session.get(Customer, data.customer_id) is None:
        raise ValidationFailed(f"customer {data.customer_id} not found", details={"field": "customer_id"})
    product_ids = [line.product_id for line in data.items]
    products = {product.id: product for product in session.scalars(select(Product).where(Product.id.in_(product_ids)))}
    missing = [product_id for product_id in product_ids if product_id not in products]
    if missing:
        raise ValidationFailed(f"product {missing[0]} not found", details={"missing_product_ids": missing})
    return products


def _take_stock(session: Session, line: OrderLine) -> bool:
    """Take `line.quantity` units if that many are in stock; False (and no change) otherwise."""
    statement = (
        update(Product)
        .where(Product.id == line.product_id, Product.stock >= line.quantity)
        .values(stock=Product.stock - line.quantity)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(session, statement) == 1


def _rowcount(session: Session, statement: Any) -> int:
    """Run an UPDATE and return how many rows it changed."""
    result = cast(CursorResult[Any], session.execute(statement))
    return int(result.rowcount)


def _shortages(session: Session, lines: list[OrderLine]) -> list[dict[str, int]]:
    rows = session.execute(select(Product.id, Product.stock).where(
        Product.id.in_([line.product_id for line in lines]))).all()
    stock = dict(rows)
    return [{"product_id": line.product_id, "requested": line.quantity, "available": stock[line.product_id]}
            for line in lines]


def _line(product: Product, line: OrderLine) -> OrderItem:
    return OrderItem(product_id=product.id, quantity=line.quantity, unit_price_cents=product.price_cents,
                     line_total_cents=line.quantity * product.price_cents)


def cancel_order(db: Database, order_id: int) -> Order:
    """Mark the order cancelled and put its quantities back in stock, in one transaction."""
    with db.transaction() as session:
        order = session.get(Order, order_id)
        if order is None:
            raise NotFound(f"order {order_id} not found")
        order.status = ORDER_CANCELLED
        for item in order.items:
            session.execute(update(Product).where(Product.id == item.product_id)
                            .values(stock=Product.stock + item.quantity)
                            .execution_options(synchronize_session=False))
    return order


def get_order(db: Database, order_id: int) -> Order:
    """The order with its lines, or NotFound."""
    with db.session() as session:
        order = session.get(Order, order_id)
    if order is None:
        raise NotFound(f"order {order_id} not found")
    return order


def order_lines(db: Database, order_id: int) -> list[OrderItem]:
    """The lines of one order, in the order they were added."""
    with db.session() as session:
        return list(session.scalars(select(OrderItem).where(OrderItem.order_id == order_id).order_by(OrderItem.id)))


def list_orders(db: Database, filters: OrderFilters, page: PageRequest) -> Page[Order]:
    """One page of the orders the filters select, by id."""
    with db.session() as session:
        return fetch_page(session, filters.apply(select(Order)), Order.id, page)
