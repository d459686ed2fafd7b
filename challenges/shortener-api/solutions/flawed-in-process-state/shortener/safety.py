"""The external safety service: one POST per URL, with a timeout, retries with backoff, and a Redis cache."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from enum import Enum

import httpx
from opentelemetry import propagate
from opentelemetry.trace import SpanKind, Status, StatusCode
from redis.asyncio import Redis

from shortener.telemetry import cache_lookup, tracer

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
        self._verdicts: dict[str, Verdict] = {}  # verdicts never change: kept for the process's lifetime

    async def verdict(self, url: str) -> Verdict:
        """The cached verdict, else the service's (then cached in this process); raises SafetyUnavailable."""
        key = hashlib.sha256(url.encode()).hexdigest()
        cached = self._verdicts.get(key)
        cache_lookup("verdict", hit=cached is not None)
        if cached is not None:
            return cached
        verdict = await self._ask_with_retries(url)
        self._verdicts[key] = verdict
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
        """One attempt, as a client span whose context travels to the service in `traceparent`."""
        target = f"{self.base_url}/v1/check"
        with tracer.start_as_current_span("POST /v1/check", kind=SpanKind.CLIENT) as span:
            span.set_attribute("http.request.method", "POST")
            span.set_attribute("url.full", target)
            headers: dict[str, str] = {}
            propagate.inject(headers)
            try:
                response = await self.http.post(target, json={"url": url}, headers=headers, timeout=self.timeout_s)
            except httpx.TransportError as exc:  # timeouts, refused or dropped connections
                span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
                raise _Retryable(type(exc).__name__) from exc
            span.set_attribute("http.response.status_code", response.status_code)
            if response.status_code >= 500:
                span.set_status(Status(StatusCode.ERROR))
        return self._read(response)

    @staticmethod
    def _read(response: httpx.Response) -> Verdict:
        """The verdict in an answer; _Retryable for a 5xx, 429 or malformed answer."""
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
