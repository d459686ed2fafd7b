"""Sliding-window rate limit kept in memory (one process serves the API)."""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

WINDOW_SECONDS = 60.0


class SlidingWindowLimiter:
    """At most `limit` hits per key in any `window` seconds.

    Each key keeps the times of its accepted hits; a refused hit is not recorded, so a client that
    waits `Retry-After` seconds is let through. Called from the event loop only, with no `await`
    between the check and the record, so no lock is needed.
    """

    def __init__(
        self, limit: int, window: float = WINDOW_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._hits: dict[int, deque[float]] = {}

    def hit(self, key: int) -> int | None:
        """Record a hit for `key`; None when allowed, else the whole seconds (>= 1) until one would be."""
        now = self._clock()
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            return max(1, math.ceil(hits[0] + self.window - now))
        hits.append(now)
        return None
