"""A sliding-window rate limiter kept in memory.

One process serves the API (see the Procfile), so the window can live in this process; several processes
would need a shared store (Redis, or a table) instead.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable

WINDOW_S = 60.0


class SlidingWindowLimiter:
    """At most `limit` hits per key in any window of `window_s` seconds (a log of hit times per key)."""

    def __init__(self, window_s: float = WINDOW_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.window_s = window_s
        self._clock = clock
        self._hits: dict[Hashable, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: Hashable, limit: int) -> int | None:
        """Count one hit for `key` and return None, or return the whole seconds to wait when over `limit`.

        A refused hit is not counted: a client that waits the returned time gets through.
        """
        now = self._clock()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.window_s:
                hits.popleft()
            if len(hits) >= limit:
                return max(1, math.ceil(hits[0] + self.window_s - now))
            hits.append(now)
            return None

    def reset(self) -> None:
        """Forget every hit."""
        with self._lock:
            self._hits.clear()


order_creations = SlidingWindowLimiter()
