"""A per-API-key sliding-window limit."""

from __future__ import annotations

import math
import time
from collections import defaultdict, deque

WINDOW_S = 60.0


class RateLimiter:
    """At most `limit` requests per key in any 60-second window."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._seen: defaultdict[str, deque[float]] = defaultdict(deque)

    async def admit(self, api_key: str) -> int | None:
        """None when admitted, else the whole seconds to wait (at least 1)."""
        now = time.monotonic()
        seen = self._seen[api_key]
        while seen and seen[0] <= now - WINDOW_S:
            seen.popleft()
        if len(seen) < self.limit:
            seen.append(now)
            return None
        return max(1, math.ceil(seen[0] + WINDOW_S - now))
