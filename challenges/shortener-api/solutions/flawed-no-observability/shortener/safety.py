"""The external safety service: one POST per URL, with a timeout, retries with backoff, and a Redis cache."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from enum import Enum

import httpx
from redis.asyncio import Redis

logger = logging.getLogger("shortener.safety")


class Verdict(Enum):
    """What the safety service said about a URL."""

    SAFE = "safe"
    UNSAFE = "unsafe"


class SafetyUnavailable(Exception):
    """The service did not give a verdict after every attempt (timeouts, 5xx, refused connections)."""


class _Retryable(Exception):
    """One attempt failed in a way worth retrying."""


class SafetyClient:
    """Asks `POST {base_url}/v1/check {"url": ...}` -> `{"safe": bool}`; verdicts are cached in Redis."""

    def __init__(self, http: httpx.AsyncClient, redis: Redis, base_url: str, *, timeout_s: float,
                 attempts: int, backoff_s: float, verdict_ttl_s: int) -> None:
        self.http = http
        self.redis = redis
        self.base_url = base_url
        self.timeout_s = timeout_s
        self.attempts = attempts
        self.backoff_s = backoff_s
        self.verdict_ttl_s = verdict_ttl_s

    async def verdict(self, url: str) -> Verdict:
        """The cached verdict, else the service's (then cached); raises SafetyUnavailable."""
        key = "safety:" + hashlib.sha256(url.encode()).hexdigest()
        cached = await self.redis.get(key)
        if cached is not None:
            return Verdict(cached.decode() if isinstance(cached, bytes) else cached)
        verdict = await self._ask_with_retries(url)
        await self.redis.set(key, verdict.value, ex=self.verdict_ttl_s)
        return verdict

    async def _ask_with_retries(self, url: str) -> Verdict:
        for attempt in range(1, self.attempts + 1):
            try:
                return await self._ask_once(url)
            except _Retryable as exc:
                logger.warning("safety check failed", extra={"attempt": attempt, "reason": str(exc)})
            if attempt < self.attempts:
                await asyncio.sleep(self.backoff_s * 2 ** (attempt - 1))
        raise SafetyUnavailable(f"no verdict after {self.attempts} attempts")

    async def _ask_once(self, url: str) -> Verdict:
        try:
            response = await self.http.post(f"{self.base_url}/v1/check", json={"url": url}, timeout=self.timeout_s)
        except httpx.TransportError as exc:  # timeouts, refused or dropped connections
            raise _Retryable(type(exc).__name__) from exc
        if response.status_code >= 500 or response.status_code == 429:
            raise _Retryable(f"status {response.status_code}")
        if response.status_code != 200:
            raise SafetyUnavailable(f"the safety service refused the request ({response.status_code})")
        try:
            safe = response.json()["safe"]
        except (ValueError, KeyError, TypeError) as exc:
            raise _Retryable("malformed answer") from exc
        if not isinstance(safe, bool):
            raise _Retryable("malformed answer")
        return Verdict.SAFE if safe else Verdict.UNSAFE
