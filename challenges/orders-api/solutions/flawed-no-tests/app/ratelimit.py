"""An in-memory sliding-window rate limiter (one process serves the API, so memory is enough)."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable

WINDOW_S = 60.0


class SlidingWindowLimiter:
    """At most `limit` hits per key in any `window_s` seconds; rejected hits do not count."""

    def __init__(self, limit: int, window_s: float = WINDOW_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window_s = window_s
        self._clock = clock
        self._hits: dict[Hashable, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: Hashable) -> int | None:
        """Count one hit for `key`: None when allowed, else the whole seconds (>= 1) until one would be."""
        with self._lock:
            now = self._clock()
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.window_s:
                hits.popleft()
            if len(hits) > self.limit:
                return max(1, math.ceil(hits[0] + self.window_s - now))
            hits.append(now)
            return None
