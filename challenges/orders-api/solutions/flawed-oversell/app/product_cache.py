"""A short-lived cache of products for the order path."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import select

from app.db import Database
from app.models import Product

DEFAULT_TTL_SECONDS = 5.0


@dataclass(frozen=True)
class ProductSnapshot:
    """What an order needs to know about a product."""

    id: int
    price_cents: int
    stock: int


class ProductCache:
    """Products by id, each kept for `ttl` seconds after it was read.

    Orders for the same few products come in bursts; with the cache a burst costs one product query
    instead of one per order. Entries are immutable snapshots, so concurrent requests can share them.
    `invalidate` drops a product whose price or stock was changed through the catalog.
    """

    def __init__(self, ttl: float = DEFAULT_TTL_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._entries: dict[int, tuple[float, ProductSnapshot]] = {}

    async def get_many(self, db: Database, ids: Sequence[int]) -> dict[int, ProductSnapshot]:
        """The products with these ids that exist, by id (unknown ids are simply absent)."""
        now = self._clock()
        missing = [product_id for product_id in ids if not self._fresh(product_id, now)]
        if missing:
            async with db.session() as session:
                for product in await session.scalars(select(Product).where(Product.id.in_(missing))):
                    snapshot = ProductSnapshot(id=product.id, price_cents=product.price_cents, stock=product.stock)
                    self._entries[product.id] = (now + self.ttl, snapshot)
        return {product_id: self._entries[product_id][1] for product_id in ids if product_id in self._entries}

    def invalidate(self, product_id: int) -> None:
        """Forget a product, so the next order reads it again."""
        self._entries.pop(product_id, None)

    def _fresh(self, product_id: int, now: float) -> bool:
        entry = self._entries.get(product_id)
        return entry is not None and entry[0] > now
