"""A per-API-key sliding-window limit kept in this process's memory."""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
from collections import deque

from redis.asyncio import Redis

WINDOW_S = 60.0


class RateLimiter:
    """At most `limit` requests per key in any 60-second window (`redis` is kept for the interface only)."""

    def __init__(self, redis: Redis, limit: int) -> None:
        self.limit = limit
        self._seen: dict[str, deque[float]] = {}
        self._lock = asyncio.Lock()

    async def admit(self, api_key: str) -> int | None:
        """None when admitted, else the whole seconds to wait (at least 1)."""
        key = hashlib.sha256(api_key.encode()).hexdigest()
        now = time.monotonic()
        async with self._lock:
            times = self._seen.setdefault(key, deque())
            while times and times[0] <= now - WINDOW_S:
                times.popleft()
            if len(times) < self.limit:
                times.append(now)
                return None
            return max(1, math.ceil(times[0] + WINDOW_S - now))
