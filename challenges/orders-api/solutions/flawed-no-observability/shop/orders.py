"""Placing and cancelling orders: the stock-taking rules, all or nothing, safe under concurrency.

Stock is never read, checked in Python and written back (two requests could both see the last unit).
Each line is taken with one conditional UPDATE, `stock = stock - q WHERE id = ? AND stock >= q`, inside a
transaction: when any line matches no row, the transaction rolls back every line already taken. On
PostgreSQL the UPDATE locks the product row until the transaction ends; a concurrent order for the same
product waits, then re-evaluates `stock >= q` against the committed row (READ COMMITTED), so no update is
lost. Lines are taken in product id order, so two orders sharing products lock them in the same order and
cannot deadlock. (SQLite, used by the tests, serializes writers: its transactions begin IMMEDIATE, see
config.env.) The `stock >= 0` CHECK constraint backs the rule up in the schema.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F

from shop.errors import Conflict, IdempotencyConflict, InsufficientStock, NotFound, ValidationFailed
from shop.models import MAX_ID, Customer, IdempotencyKey, Order, OrderItem, Product

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class OrderLine:
    """One requested line of an order."""

    product_id: int
    quantity: int


@dataclass(frozen=True)
class IdempotencyRequest:
    """An Idempotency-Key and the fingerprint of the body sent with it."""

    key: str
    fingerprint: str


def body_fingerprint(payload: Any) -> str:
    """A hash of a JSON body that ignores key order and whitespace."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def orders_with_items() -> Any:
    """Orders with their lines loaded in one extra query."""
    return Order.objects.prefetch_related("items")


def find_replay(idempotency: IdempotencyRequest) -> Order | None:
    """The order an earlier request with this key created; 409 when that request had another body."""
    record = IdempotencyKey.objects.filter(key=idempotency.key).only("fingerprint", "order_id").first()
    if record is None:
        return None
    if record.fingerprint != idempotency.fingerprint:
        raise IdempotencyConflict("this Idempotency-Key was already used with a different body")
    order: Order = orders_with_items().get(pk=record.order_id)
    return order


def known_customer_id(payload: Any) -> int | None:
    """The id of the existing customer a (not yet validated) order body names, else None.

    The rate limit counts every attempt for a known customer, valid or not, so it is checked before
    the rest of the body is validated.
    """
    customer_id = payload.get("customer_id") if isinstance(payload, dict) else None
    if isinstance(customer_id, bool) or not isinstance(customer_id, int) or not 1 <= customer_id <= MAX_ID:
        return None
    return customer_id if Customer.objects.filter(pk=customer_id).exists() else None


def place_order(customer_id: int, lines: Sequence[OrderLine], idempotency: IdempotencyRequest | None) -> Order:
    """Create a placed order and take its stock, all or nothing.

    With an idempotency key, a concurrent request with the same key that committed first wins: this one
    then returns that order instead of creating a second one (the key is unique in the database).
    """
    try:
        with transaction.atomic():
            if idempotency is not None and (earlier := find_replay(idempotency)) is not None:
                return earlier
            prices = current_prices(lines)
            for line in sorted(lines, key=lambda line: line.product_id):  # one lock order for every order
                take_stock(line)
            order = create_order(customer_id, lines, prices)
            if idempotency is not None:
                IdempotencyKey.objects.create(key=idempotency.key, fingerprint=idempotency.fingerprint, order=order)
    except IntegrityError:
        # Another request with the same new key committed first: the unique key refused this one's row and
        # its transaction (stock included) rolled back; answer with the order the other one created.
        if idempotency is None or (winner := find_replay(idempotency)) is None:
            raise
        return winner
    logger.info("order placed", extra={"order_id": order.pk, "customer_id": customer_id, "lines": len(lines),
                                       "total_cents": order.total_cents})
    placed: Order = orders_with_items().get(pk=order.pk)
    return placed


def current_prices(lines: Sequence[OrderLine]) -> dict[int, int]:
    """Unit price of every product the lines name; 422 when one does not exist."""
    prices = dict(Product.objects.filter(pk__in=[line.product_id for line in lines]).values_list("id", "price_cents"))
    missing = [line.product_id for line in lines if line.product_id not in prices]
    if missing:
        raise ValidationFailed(f"unknown product id(s): {', '.join(map(str, missing))}", {"product_ids": missing})
    return prices


def create_order(customer_id: int, lines: Sequence[OrderLine], prices: dict[int, int]) -> Order:
    """Insert the order and its lines, prices frozen as they are now."""
    items = [
        OrderItem(product_id=line.product_id, quantity=line.quantity, unit_price_cents=prices[line.product_id],
                  line_total_cents=line.quantity * prices[line.product_id])
        for line in lines
    ]
    order = Order.objects.create(customer_id=customer_id, total_cents=sum(item.line_total_cents for item in items))
    for item in items:
        item.order = order
    OrderItem.objects.bulk_create(items)
    return order


def take_stock(line: OrderLine) -> None:
    """Take `quantity` units of a product, or raise InsufficientStock (the caller's transaction rolls back)."""
    taken = Product.objects.filter(pk=line.product_id, stock__gte=line.quantity).update(
        stock=F("stock") - line.quantity)
    if not taken:
        available = Product.objects.filter(pk=line.product_id).values_list("stock", flat=True).get()
        raise InsufficientStock(
            f"product {line.product_id} has {available} in stock, {line.quantity} requested",
            {"product_id": line.product_id, "requested": line.quantity, "available": available},
        )


def cancel_order(order_id: int) -> Order:
    """Mark a placed order cancelled and put its quantities back in stock; 409 when already cancelled."""
    with transaction.atomic():
        order = Order.objects.filter(pk=order_id).first()
        if order is None:
            raise NotFound(f"order {order_id} not found")
        cancelled = Order.objects.filter(pk=order_id, status=Order.Status.PLACED).update(status=Order.Status.CANCELLED)
        if not cancelled:
            raise Conflict(f"order {order_id} is already cancelled")
        for item in OrderItem.objects.filter(order_id=order_id).order_by("product_id"):  # place_order's lock order
            Product.objects.filter(pk=item.product_id).update(stock=F("stock") + item.quantity)
    logger.info("order cancelled", extra={"order_id": order_id})
    result: Order = orders_with_items().get(pk=order_id)
    return result
