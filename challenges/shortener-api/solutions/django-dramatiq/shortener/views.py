"""The HTTP API: create links (after the safety check), redirect from the cache, stats, health, ready,
metrics, and JSON answers for unknown paths and server errors."""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import redis
from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse

from shortener import links
from shortener.errors import ApiError, error_response
from shortener.models import Link
from shortener.queue import queue_depth
from shortener.ratelimit import rate_limiter, redis_client
from shortener.safety import SafetyUnavailable, safety_client
from shortener.tasks import record_click
from shortener.telemetry import QUEUE_DEPTH

logger = logging.getLogger("shortener.views")
View = Callable[..., HttpResponse]
API_KEY_PATTERN = re.compile(r"[\x21-\x7e]{1,128}")


def allow(*methods: str) -> Callable[[View], View]:
    """Answer other methods with a JSON 405 naming the allowed ones."""
    def decorate(view: View) -> View:
        @functools.wraps(view)
        def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method not in methods:
                return error_response(405, "method_not_allowed", f"use {' or '.join(methods)}",
                                      {"Allow": ", ".join(methods)})
            return view(request, *args, **kwargs)
        return checked
    return decorate


def _link_json(request: HttpRequest, link: Link) -> dict[str, Any]:
    return {"code": link.code, "url": link.url, "short_url": request.build_absolute_uri(f"/{link.code}"),
            "created_at": link.created_at.isoformat()}


@allow("GET")
def health(request: HttpRequest) -> HttpResponse:
    """The process is up (nothing else is asked)."""
    return JsonResponse({"status": "ok"})


@allow("GET")
def ready(request: HttpRequest) -> HttpResponse:
    """200 when PostgreSQL and Redis both answer, else 503 naming the one that does not."""
    checks = {"database": "ok", "redis": "ok"}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        checks["database"] = "unavailable"
    try:
        redis_client().ping()
    except redis.RedisError:
        checks["redis"] = "unavailable"
    ok = all(state == "ok" for state in checks.values())
    return JsonResponse({"status": "ready" if ok else "not_ready", "checks": checks}, status=200 if ok else 503)


@allow("GET")
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus text format; the click queue's depth is read at each scrape."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    try:
        QUEUE_DEPTH.set(queue_depth())
    except redis.RedisError:
        logger.warning("click queue depth unavailable", exc_info=True)
    return HttpResponse(generate_latest(), content_type=CONTENT_TYPE_LATEST)


@allow("POST")
def create_link(request: HttpRequest) -> HttpResponse:
    """Check the key, the rate limit, the body and the safety service; then create the link (201)."""
    key = request.headers.get("X-API-Key", "")
    if not API_KEY_PATTERN.fullmatch(key):
        raise ApiError(401, "unauthorized", "send your API key in the X-API-Key header")
    wait_s = rate_limiter().wait_s(key)
    if wait_s is not None:
        raise ApiError(429, "rate_limited", "too many links created with this key", {"Retry-After": str(wait_s)})
    url = links.valid_url(_json_body(request).get("url"))
    try:
        safe = safety_client().is_safe(url)
    except SafetyUnavailable as exc:
        logger.warning("safety service unavailable", extra={"reason": str(exc)})
        raise ApiError(503, "safety_unavailable", "the URL safety service is unavailable; retry later",
                       {"Retry-After": str(settings.RETRY_AFTER_S)}) from exc
    if not safe:
        raise ApiError(422, "unsafe_url", "the safety service flagged this URL")
    link = links.create(url)
    response = JsonResponse(_link_json(request, link), status=201)
    response["Location"] = f"/v1/links/{link.code}"
    return response


def _json_body(request: HttpRequest) -> dict[str, Any]:
    """The body as a JSON object; a 422 for anything else."""
    try:
        body = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(422, "validation_error", "the body must be a JSON object with a url") from None
    if not isinstance(body, dict):
        raise ApiError(422, "validation_error", "the body must be a JSON object with a url")
    return body


@allow("GET")
def link_detail(request: HttpRequest, code: str) -> HttpResponse:
    """The link of `code`."""
    return JsonResponse(_link_json(request, links.find(code)))


@allow("GET")
def link_stats(request: HttpRequest, code: str) -> HttpResponse:
    """Total and per-UTC-day clicks, as aggregated by the worker."""
    link = links.find(code)
    counts = links.daily_clicks(link)
    daily = [{"date": day.isoformat(), "clicks": clicks} for day, clicks in counts]
    return JsonResponse({"code": link.code, "total_clicks": sum(clicks for _, clicks in counts), "daily": daily})


@allow("GET")
def follow(request: HttpRequest, code: str) -> HttpResponse:
    """302 to the link's URL, from the Redis cache; the click is a message for the worker (no DB write)."""
    target = links.target(code)
    record_click.send(target.link_id, datetime.now(UTC).date().isoformat())
    return HttpResponseRedirect(target.url)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler404: unknown paths answer JSON too."""
    return error_response(404, "not_found", "no such resource")


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: a JSON 500 without details."""
    return error_response(500, "internal_error", "internal server error")
