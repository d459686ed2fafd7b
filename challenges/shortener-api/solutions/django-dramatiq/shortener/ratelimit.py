"""Per-API-key sliding window in Redis: one Lua script on Redis's own clock, atomic across threads,
processes and replicas, and kept across restarts."""

from __future__ import annotations

import functools
import hashlib
import uuid

from django.conf import settings
from redis import Redis

WINDOW_MS = 60_000

# KEYS[1]: the key's log of admissions (a sorted set scored by milliseconds); ARGV: window, limit, member.
# Returns 0 when admitted, else the whole seconds until the oldest admission leaves the window.
_ADMIT = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000 + math.floor(tonumber(now_parts[2]) / 1000)
local window, limit = tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= limit then
  local oldest = tonumber(redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2])
  return math.max(1, math.ceil((oldest + window - now) / 1000))
end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], window)
return 0
"""


class RateLimiter:
    """At most `limit` admissions per key in any 60 seconds."""

    def __init__(self, redis: Redis, limit: int) -> None:
        self.limit = limit
        self._admit = redis.register_script(_ADMIT)

    def wait_s(self, api_key: str) -> int | None:
        """None when admitted, else whole seconds until a slot frees (at least 1)."""
        key = "rate:" + hashlib.sha256(api_key.encode()).hexdigest()
        wait = int(self._admit(keys=[key], args=[WINDOW_MS, self.limit, uuid.uuid4().hex]))
        return wait or None


@functools.cache
def redis_client() -> Redis:
    """The process's Redis client for what the cache framework does not cover (scripts, pings)."""
    return Redis.from_url(settings.REDIS_URL, **settings.REDIS_TIMEOUTS)


def rate_limiter() -> RateLimiter:
    """A limiter at RATE_LIMIT_PER_MINUTE per key (cheap: the script is sent once, then run by its hash)."""
    return RateLimiter(redis_client(), settings.RATE_LIMIT_PER_MINUTE)
