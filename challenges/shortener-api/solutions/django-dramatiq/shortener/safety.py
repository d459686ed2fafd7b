"""The URL safety service: a timeout per attempt, retries with backoff, verdicts cached in Redis."""

from __future__ import annotations

import functools
import hashlib
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
from django.conf import settings
from django.core.cache import cache
from opentelemetry import propagate
from opentelemetry.trace import SpanKind, Status, StatusCode

from shortener.telemetry import cache_lookup, tracer

logger = logging.getLogger("shortener.safety")
_MISSING = object()


class SafetyUnavailable(Exception):
    """No verdict after every attempt."""


class _Retryable(Exception):
    """One attempt failed in a way worth another."""


@dataclass(frozen=True)
class SafetyClient:
    """`POST {base_url}/v1/check {"url": ...}` -> `{"safe": bool}`."""

    http: httpx.Client
    base_url: str
    timeout_s: float
    attempts: int
    backoff_s: float
    verdict_ttl_s: int

    def is_safe(self, url: str) -> bool:
        """The cached verdict, else the service's (then cached); SafetyUnavailable when none comes."""
        key = "verdict:" + hashlib.sha256(url.encode()).hexdigest()
        cached = cache.get(key, _MISSING)
        cache_lookup("verdict", hit=cached is not _MISSING)
        if isinstance(cached, bool):
            return cached
        safe = self._ask_with_retries(url)
        cache.set(key, safe, timeout=self.verdict_ttl_s)
        return safe

    def _ask_with_retries(self, url: str) -> bool:
        waits = backoff(self.backoff_s, self.attempts - 1)
        for attempt in range(1, self.attempts + 1):
            try:
                return self._ask(url)
            except _Retryable as exc:
                logger.warning("safety check failed", extra={"attempt": attempt, "reason": str(exc)})
            wait_s = next(waits, None)
            if wait_s is not None:
                time.sleep(wait_s)  # a gunicorn thread: only this request waits
        raise SafetyUnavailable(f"no verdict after {self.attempts} attempts")

    def _ask(self, url: str) -> bool:
        """One attempt, as a CLIENT span whose context travels to the service in `traceparent`."""
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
        return _verdict(response)


def backoff(first_s: float, count: int) -> Iterator[float]:
    """`count` waits between attempts: `first_s`, then doubled each time."""
    wait_s = first_s
    for _ in range(count):
        yield wait_s
        wait_s *= 2


def _verdict(response: httpx.Response) -> bool:
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


@functools.cache
def safety_client() -> SafetyClient:
    """The process's client (one connection pool shared by the gunicorn threads)."""
    return SafetyClient(httpx.Client(), settings.SAFETY_API_URL, timeout_s=settings.SAFETY_TIMEOUT_S,
                        attempts=settings.SAFETY_ATTEMPTS, backoff_s=settings.SAFETY_BACKOFF_S,
                        verdict_ttl_s=settings.VERDICT_TTL_S)
