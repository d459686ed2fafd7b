"""The web process: create links (after the safety check), redirect from the cache, stats, health, ready,
metrics; each request traced (a server span continuing the caller's `traceparent`) and counted."""

from __future__ import annotations

import logging
import re
import secrets
import string
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, LiteralString

import httpx
import psycopg
from flask import Flask, Response, g, jsonify, redirect, request
from opentelemetry import context, propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as WerkzeugResponse

from linkshort.config import Settings, load_settings
from linkshort.jobs import QUEUE_NAME, record_click
from linkshort.logs import configure_logging
from linkshort.ratelimit import RateLimiter
from linkshort.safety import SafetyClient, SafetyUnavailable
from linkshort.telemetry import (
    LATENCY,
    QUEUE_DEPTH,
    REQUESTS,
    cache_lookup,
    db_span,
    route_label,
    setup_tracing,
    tracer,
)

logger = logging.getLogger("linkshort")
CODE_ALPHABET = string.ascii_letters + string.digits
CODE_PATTERN = re.compile(r"[A-Za-z0-9]{1,32}")
API_KEY_PATTERN = re.compile(r"[\x21-\x7e]{1,128}")
REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
MAX_URL_LENGTH = 2048


class ApiError(Exception):
    """An error answered as JSON with its status, code, message and headers."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    response = jsonify({"error": {"code": code, "message": message}})
    response.status_code = status
    response.headers.update(headers or {})
    return response


def valid_url(value: object) -> str:
    """An absolute http(s) URL with a host, no whitespace, at most 2048 characters; else a 422."""
    if not isinstance(value, str) or not 0 < len(value) <= MAX_URL_LENGTH or any(c.isspace() for c in value):
        raise ApiError(422, "validation_error", "url must be an absolute http(s) URL of at most 2048 characters")
    try:
        parsed = httpx.URL(value)
    except httpx.InvalidURL:
        parsed = None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host:
        raise ApiError(422, "validation_error", "url must be an absolute http:// or https:// URL")
    return value


class Services:
    """The process's connections: PostgreSQL pool, Redis, the click queue, the safety client, the limiter."""

    def __init__(self, settings: Settings, safety_transport: httpx.BaseTransport | None, queue: Queue | None) -> None:
        self.settings = settings
        self.pool = ConnectionPool(settings.database_url, min_size=1, max_size=8, open=True)
        self.redis = Redis.from_url(settings.redis_url)
        self.queue = queue or Queue(QUEUE_NAME, connection=self.redis)
        self.safety = SafetyClient(httpx.Client(transport=safety_transport), self.redis, settings.safety_api_url,
                                   timeout_s=settings.safety_timeout_s, attempts=settings.safety_attempts,
                                   backoff_s=settings.safety_backoff_s, verdict_ttl_s=settings.verdict_ttl_s)
        self.limiter = RateLimiter(self.redis, settings.rate_limit_per_minute)

    def close(self) -> None:
        """Release the pool, the Redis connections and the HTTP client."""
        self.pool.close()
        self.redis.close()  # type: ignore[no-untyped-call]  # redis-py leaves it unannotated
        self.safety.http.close()

    def rows(self, sql: LiteralString, params: tuple[Any, ...]) -> list[dict[str, Any]]:
        """Every row of one statement, as dicts (a write commits when the block ends)."""
        operation = sql.split(None, 1)[0].upper()
        with (self.pool.connection() as connection, connection.cursor(row_factory=dict_row) as cursor,
              db_span(operation, sql)):
            cursor.execute(sql, params)
            return cursor.fetchall() if cursor.description else []

    def find_link(self, code: str) -> dict[str, Any]:
        """The link row, or a 404."""
        if not CODE_PATTERN.fullmatch(code):
            raise ApiError(404, "not_found", "no such link")
        rows = self.rows("SELECT id, code, url, created_at FROM links WHERE code = %s", (code,))
        if not rows:
            raise ApiError(404, "not_found", "no such link")
        return rows[0]

    def insert_link(self, url: str) -> dict[str, Any]:
        """A new link with a random 8-character code (a collision just draws again)."""
        for _ in range(5):
            code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))
            rows = self.rows("INSERT INTO links (code, url) VALUES (%s, %s) ON CONFLICT (code) DO NOTHING "
                             "RETURNING id, code, url, created_at", (code, url))
            if rows:
                return rows[0]
        raise ApiError(500, "internal_error", "could not allocate a code")

    def target(self, code: str) -> tuple[int, str]:
        """(link id, URL) from the Redis cache; a miss reads PostgreSQL once (links never change)."""
        key = f"link:{code}"
        cached: dict[bytes, bytes] = self.redis.hgetall(key)  # type: ignore[assignment]  # sync client
        cache_lookup("link", hit=bool(cached))
        if cached:
            return int(cached[b"id"]), cached[b"url"].decode()
        row = self.find_link(code)
        self.redis.hset(key, mapping={"id": row["id"], "url": row["url"]})
        self.redis.expire(key, self.settings.link_cache_ttl_s)
        return int(row["id"]), str(row["url"])


def _link_json(row: dict[str, Any]) -> dict[str, Any]:
    return {"code": row["code"], "url": row["url"], "short_url": request.host_url + row["code"],
            "created_at": row["created_at"].isoformat()}


def create_app(settings: Settings | None = None, safety_transport: httpx.BaseTransport | None = None,
               queue: Queue | None = None) -> Flask:
    """The WSGI app (`gunicorn 'linkshort.app:create_app()'`); tests pass settings, a fake transport, a queue."""
    configure_logging()
    setup_tracing()
    services = Services(settings or load_settings(), safety_transport, queue)
    app = Flask(__name__)
    app.extensions["linkshort"] = services
    app.json.sort_keys = False  # type: ignore[attr-defined]
    _add_request_context(app)
    _add_error_handlers(app)
    _add_routes(app, services)
    return app


def _add_request_context(app: Flask) -> None:
    @app.before_request
    def start() -> None:
        sent = request.headers.get("X-Request-ID")
        g.request_id = sent if sent and REQUEST_ID_PATTERN.fullmatch(sent) else uuid.uuid4().hex
        g.started = time.perf_counter()
        span = tracer.start_span(request.method, kind=SpanKind.SERVER,
                                 context=propagate.extract(_lower_case(request.headers)))
        g.span, g.span_token = span, context.attach(trace.set_span_in_context(span))

    @app.after_request
    def finish(response: Response) -> Response:
        response.headers["X-Request-ID"] = g.request_id
        route = route_label(request.url_rule.rule if request.url_rule else None)
        elapsed_s = time.perf_counter() - g.started
        REQUESTS.labels(method=request.method, route=route, status=str(response.status_code)).inc()
        LATENCY.labels(method=request.method, route=route).observe(elapsed_s)
        _describe(g.span, route, response.status_code)
        logger.log(logging.ERROR if response.status_code >= 500 else logging.INFO, "request", extra={
            "method": request.method, "path": request.path, "status": response.status_code,
            "duration_ms": round(elapsed_s * 1000, 2)})
        return response

    @app.teardown_request
    def end_span(exc: BaseException | None) -> None:
        span = g.pop("span", None)
        if span is not None:
            span.end()
            context.detach(g.pop("span_token"))


def _lower_case(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Header names in lower case, as the W3C propagator looks them up (`traceparent`)."""
    return {name.lower(): value for name, value in headers}


def _describe(span: trace.Span, route: str, status: int) -> None:
    """Name the server span after the route template, with the request's attributes."""
    span.update_name(f"{request.method} {route}")
    span.set_attribute("http.request.method", request.method)
    span.set_attribute("http.route", route)
    span.set_attribute("url.path", request.path)
    span.set_attribute("http.response.status_code", status)
    if status >= 500:
        span.set_status(Status(StatusCode.ERROR))


def _add_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def api_error(exc: ApiError) -> Response:
        return _error(exc.status, exc.code, exc.message, exc.headers)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.code or 500, "http_error")
        return _error(exc.code or 500, code, exc.description or "error")

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        logger.exception("unhandled error")
        return _error(500, "internal_error", "internal server error")


def _add_routes(app: Flask, services: Services) -> None:
    @app.get("/health")
    def health() -> Response:
        return jsonify({"status": "ok"})

    @app.get("/ready")
    def ready() -> tuple[Response, int]:
        checks = {"database": "ok", "redis": "ok"}
        try:
            with services.pool.connection(timeout=2) as connection:
                connection.execute("SELECT 1")
        except (psycopg.Error, OSError):
            checks["database"] = "unavailable"
        try:
            services.redis.ping()
        except RedisError:
            checks["redis"] = "unavailable"
        ok = all(state == "ok" for state in checks.values())
        return jsonify({"status": "ready" if ok else "not_ready", "checks": checks}), 200 if ok else 503

    @app.post("/v1/links")
    def create_link() -> tuple[Response, int, dict[str, str]]:
        key = request.headers.get("X-API-Key")
        if key is None or not API_KEY_PATTERN.fullmatch(key):
            raise ApiError(401, "unauthorized", "send your API key in the X-API-Key header")
        wait_s = services.limiter.wait_s(key)
        if wait_s is not None:
            raise ApiError(429, "rate_limited", "too many links created with this key", {"Retry-After": str(wait_s)})
        body = request.get_json(silent=True)
        url = valid_url(body.get("url") if isinstance(body, dict) else None)
        try:
            safe = services.safety.is_safe(url)
        except SafetyUnavailable as exc:
            logger.warning("safety service unavailable", extra={"reason": str(exc)})
            raise ApiError(503, "safety_unavailable", "the URL safety service is unavailable; retry later",
                           {"Retry-After": str(services.settings.retry_after_s)}) from exc
        if not safe:
            raise ApiError(422, "unsafe_url", "the safety service flagged this URL")
        row = services.insert_link(url)
        return jsonify(_link_json(row)), 201, {"Location": f"/v1/links/{row['code']}"}

    @app.get("/v1/links/<code>")
    def get_link(code: str) -> Response:
        return jsonify(_link_json(services.find_link(code)))

    @app.get("/v1/links/<code>/stats")
    def stats(code: str) -> Response:
        link = services.find_link(code)
        days = services.rows("SELECT day, clicks FROM click_counts WHERE link_id = %s ORDER BY day", (link["id"],))
        daily = [{"date": day["day"].isoformat(), "clicks": day["clicks"]} for day in days]
        return jsonify({"code": link["code"], "total_clicks": sum(d["clicks"] for d in daily), "daily": daily})

    @app.get("/metrics")
    def metrics() -> Response:
        try:
            QUEUE_DEPTH.set(services.queue.count)
        except RedisError:
            logger.warning("queue depth unavailable")
        return Response(generate_latest(), content_type=CONTENT_TYPE_LATEST)

    @app.get("/<code>")
    def follow(code: str) -> WerkzeugResponse:
        link_id, url = services.target(code)
        services.queue.enqueue(record_click, link_id, datetime.now(UTC).date().isoformat())
        return redirect(url, code=302)
