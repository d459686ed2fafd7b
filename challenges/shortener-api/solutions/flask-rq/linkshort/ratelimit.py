"""Per-API-key sliding window in Redis (one Lua script: atomic across threads, processes and replicas)."""

from __future__ import annotations

import hashlib
import math
import time
import uuid

from redis import Redis

WINDOW_S = 60.0

_ADMIT = """
local key, now, window, limit = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
if redis.call('ZCARD', key) < limit then
  redis.call('ZADD', key, now, ARGV[4])
  redis.call('PEXPIRE', key, math.ceil(window * 1000))
  return {1, '0'}
end
local oldest = tonumber(redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')[2])
return {0, tostring(oldest + window - now)}
"""


class RateLimiter:
    """At most `limit` requests per key in any 60 seconds."""

    def __init__(self, redis: Redis, limit: int) -> None:
        self.limit = limit
        self._admit = redis.register_script(_ADMIT)

    def wait_s(self, api_key: str) -> int | None:
        """None when admitted, else whole seconds until a slot frees (at least 1)."""
        key = "rate:" + hashlib.sha256(api_key.encode()).hexdigest()
        admitted, wait = self._admit(keys=[key], args=[time.time(), WINDOW_S, self.limit, uuid.uuid4().hex])
        if int(admitted):
            return None
        return max(1, math.ceil(float(wait)))
