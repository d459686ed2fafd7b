"""A per-API-key sliding-window limit kept in Redis, so it holds across replicas and restarts."""

from __future__ import annotations

import hashlib
import math
import time
import uuid

from redis.asyncio import Redis

WINDOW_S = 60.0

# Atomically: drop entries older than the window, then admit (and record) the request if under the limit.
# Returns {admitted (0/1), seconds until the oldest entry leaves the window}.
_SLIDING_WINDOW = """
local key, now, window, limit, member = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local count = redis.call('ZCARD', key)
if count < limit then
  redis.call('ZADD', key, now, member)
  redis.call('PEXPIRE', key, math.ceil(window * 1000))
  return {1, 0}
end
local oldest = tonumber(redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')[2])
return {0, tostring(oldest + window - now)}
"""


class RateLimiter:
    """At most `limit` requests per key in any 60-second window."""

    def __init__(self, redis: Redis, limit: int) -> None:
        self.redis = redis
        self.limit = limit
        self._script = redis.register_script(_SLIDING_WINDOW)

    async def admit(self, api_key: str) -> int | None:
        """None when admitted, else the whole seconds to wait (at least 1)."""
        key = "ratelimit:" + hashlib.sha256(api_key.encode()).hexdigest()
        admitted, wait_s = await self._script(keys=[key], args=[time.time(), WINDOW_S, self.limit, uuid.uuid4().hex])
        if int(admitted):
            return None
        return max(1, math.ceil(float(wait_s)))
