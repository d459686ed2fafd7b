"""The URL safety service: a timeout per attempt, retries with backoff, verdicts cached in Redis."""

from __future__ import annotations

import hashlib
import logging
import time

import httpx
from opentelemetry import propagate
from opentelemetry.trace import SpanKind, Status, StatusCode
from redis import Redis

from linkshort.telemetry import cache_lookup, tracer

logger = logging.getLogger("linkshort.safety")


class SafetyUnavailable(Exception):
    """No verdict after every attempt."""


class _Retryable(Exception):
    """One attempt failed in a way worth another."""


class SafetyClient:
    """`POST {base_url}/v1/check {"url": ...}` -> `{"safe": bool}`."""

    def __init__(self, http: httpx.Client, redis: Redis, base_url: str, *, timeout_s: float, attempts: int,
                 backoff_s: float, verdict_ttl_s: int) -> None:
        self.http = http
        self.redis = redis
        self.base_url = base_url
        self.timeout_s = timeout_s
        self.attempts = attempts
        self.backoff_s = backoff_s
        self.verdict_ttl_s = verdict_ttl_s

    def is_safe(self, url: str) -> bool:
        """The cached verdict, else the service's (then cached); raises SafetyUnavailable."""
        key = "verdict:" + hashlib.sha256(url.encode()).hexdigest()
        cached = self.redis.get(key)
        cache_lookup("verdict", hit=cached is not None)
        if cached is not None:
            return cached == b"1"
        safe = self._ask_with_retries(url)
        self.redis.set(key, b"1" if safe else b"0", ex=self.verdict_ttl_s)
        return safe

    def _ask_with_retries(self, url: str) -> bool:
        for attempt in range(1, self.attempts + 1):
            try:
                return self._ask(url)
            except _Retryable as exc:
                logger.warning("safety check failed", extra={"attempt": attempt, "reason": str(exc)})
            if attempt < self.attempts:
                time.sleep(self.backoff_s * 2 ** (attempt - 1))  # a worker thread: only this request waits
        raise SafetyUnavailable(f"no verdict after {self.attempts} attempts")

    def _ask(self, url: str) -> bool:
        """One attempt, as a client span whose context travels to the service in `traceparent`."""
        target = f"{self.base_url}/v1/check"
        with tracer.start_as_current_span("POST /v1/check", kind=SpanKind.CLIENT) as span:
            span.set_attribute("http.request.method", "POST")
            span.set_attribute("url.full", target)
            headers: dict[str, str] = {}
            propagate.inject(headers)
            try:
                response = self.http.post(target, json={"url": url}, headers=headers, timeout=self.timeout_s)
            except httpx.TransportError as exc:
                span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
                raise _Retryable(type(exc).__name__) from exc
            span.set_attribute("http.response.status_code", response.status_code)
            if response.status_code >= 500:
                span.set_status(Status(StatusCode.ERROR))
        return self._read(response)

    @staticmethod
    def _read(response: httpx.Response) -> bool:
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
        return safe
