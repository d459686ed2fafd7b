"""Which order each Idempotency-Key created, kept in memory (one process serves the API)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class KeyedOrder:
    """The order a key created and the fingerprint of the body it was sent with."""

    order_id: int
    fingerprint: str


class IdempotencyStore:
    """Idempotency-Key -> the order it created.

    Only successful creations are remembered, so a request that failed (e.g. out of stock) can be retried
    with the same key.
    """

    def __init__(self) -> None:
        self._orders: dict[str, KeyedOrder] = {}

    def get(self, key: str) -> KeyedOrder | None:
        """What `key` created, if anything."""
        return self._orders.get(key)

    def remember(self, key: str, order_id: int, fingerprint: str) -> None:
        """Record that `key`, sent with a body of this fingerprint, created order `order_id`."""
        self._orders[key] = KeyedOrder(order_id=order_id, fingerprint=fingerprint)

    def __len__(self) -> int:
        return len(self._orders)
