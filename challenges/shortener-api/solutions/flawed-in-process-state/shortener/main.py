"""The web app: create links (checked by the safety service), redirect, stats, health, readiness, metrics."""

from __future__ import annotations

import logging
import re
import secrets
import string
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import asyncpg
import httpx
from fastapi import FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field, field_validator
from redis.asyncio import Redis
from starlette.exceptions import HTTPException as StarletteHTTPException

from shortener import clicks
from shortener.config import Settings, load_settings
from shortener.errors import ApiError, error_response
from shortener.logging_setup import configure_logging
from shortener.middleware import RequestContextMiddleware
from shortener.ratelimit import RateLimiter
from shortener.safety import SafetyClient, SafetyUnavailable, Verdict
from shortener.telemetry import QUEUE_DEPTH, cache_lookup, db_span, flush_traces, setup_tracing

logger = logging.getLogger("shortener")

CODE_ALPHABET = string.ascii_letters + string.digits
CODE_LENGTH = 8
CODE_PATTERN = re.compile(r"[A-Za-z0-9]{1,32}")
API_KEY_PATTERN = re.compile(r"[\x21-\x7e]{1,128}")
MAX_URL_LENGTH = 2048


class LinkIn(BaseModel):
    """The body of POST /v1/links."""

    url: str = Field(min_length=1, max_length=MAX_URL_LENGTH)

    @field_validator("url")
    @classmethod
    def absolute_http_url(cls, value: str) -> str:
        """Only absolute http(s) URLs with a host, and no whitespace."""
        parsed = httpx.URL(value) if _looks_like_http(value) else None
        if parsed is None or not parsed.host:
            raise ValueError("must be an absolute http:// or https:// URL")
        return value


def _looks_like_http(value: str) -> bool:
    if any(char.isspace() for char in value) or not value.lower().startswith(("http://", "https://")):
        return False
    try:
        httpx.URL(value)
    except httpx.InvalidURL:
        return False
    return True


class State:
    """The app's connections, made in the lifespan."""

    def __init__(self, settings: Settings, pool: asyncpg.Pool, redis: Redis, http: httpx.AsyncClient) -> None:
        self.settings = settings
        self.pool = pool
        self.redis = redis
        self.safety = SafetyClient(http, redis, settings.safety_api_url, timeout_s=settings.safety_timeout_s,
                                   attempts=settings.safety_attempts, backoff_s=settings.safety_backoff_s,
                                   verdict_ttl_s=settings.verdict_ttl_s)
        self.limiter = RateLimiter(redis, settings.rate_limit_per_minute)
        self.links: dict[str, tuple[int, str]] = {}  # code -> (link id, URL), for this process's lifetime


def _state(request: Request) -> State:
    state: State = request.app.state.shortener
    return state


def create_app(settings: Settings | None = None, safety_transport: httpx.AsyncBaseTransport | None = None) -> FastAPI:
    """The ASGI app; `settings` default to the environment, `safety_transport` lets tests fake the service."""
    configure_logging()
    setup_tracing()
    config = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = await asyncpg.create_pool(config.database_url, min_size=1, max_size=10)
        redis = Redis.from_url(config.redis_url)
        async with httpx.AsyncClient(transport=safety_transport) as http:
            app.state.shortener = State(config, pool, redis, http)
            try:
                yield
            finally:
                await redis.aclose()
                await pool.close()
                flush_traces()

    app = FastAPI(title="Shortener API", lifespan=lifespan)
    app.add_middleware(RequestContextMiddleware)
    _add_error_handlers(app)
    _add_routes(app)
    return app


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        details = "; ".join(f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}" for error in exc.errors())
        return error_response(422, "validation_error", details or "invalid request")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return error_response(exc.status_code, code, str(exc.detail))


def _link_body(request: Request, row: asyncpg.Record) -> dict[str, Any]:
    return {"code": row["code"], "url": row["url"], "short_url": str(request.base_url) + row["code"],
            "created_at": row["created_at"].isoformat()}


def _add_routes(app: FastAPI) -> None:
    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready")
    async def ready(request: Request) -> JSONResponse:
        state = _state(request)
        checks = {"database": "ok", "redis": "ok"}
        try:
            async with state.pool.acquire(timeout=2) as connection:
                with db_span("SELECT", "SELECT 1"):
                    await connection.fetchval("SELECT 1")
        except (OSError, asyncpg.PostgresError, TimeoutError):
            checks["database"] = "unavailable"
        try:
            await state.redis.ping()
        except (OSError, ConnectionError, TimeoutError):
            checks["redis"] = "unavailable"
        ok = all(value == "ok" for value in checks.values())
        body = {"status": "ready" if ok else "not_ready", "checks": checks}
        return JSONResponse(body, status_code=200 if ok else 503)

    @app.post("/v1/links", status_code=201)
    async def create_link(request: Request, body: LinkIn,
                          x_api_key: Annotated[str | None, Header()] = None) -> JSONResponse:
        state = _state(request)
        if x_api_key is None or not API_KEY_PATTERN.fullmatch(x_api_key):
            raise ApiError(401, "unauthorized", "send your API key in the X-API-Key header")
        wait_s = await state.limiter.admit(x_api_key)
        if wait_s is not None:
            raise ApiError(429, "rate_limited", "too many links created with this key",
                           {"Retry-After": str(wait_s)})
        try:
            verdict = await state.safety.verdict(body.url)
        except SafetyUnavailable as exc:
            logger.warning("safety service unavailable", extra={"reason": str(exc)})
            raise ApiError(503, "safety_unavailable", "the URL safety service is unavailable; retry later",
                           {"Retry-After": str(state.settings.retry_after_s)}) from exc
        if verdict is Verdict.UNSAFE:
            raise ApiError(422, "unsafe_url", "the safety service flagged this URL")
        row = await _insert_link(state.pool, body.url)
        created = _link_body(request, row)
        return JSONResponse(created, status_code=201, headers={"Location": f"/v1/links/{row['code']}"})

    @app.get("/v1/links/{code}")
    async def get_link(request: Request, code: str) -> dict[str, Any]:
        row = await _find_link(_state(request).pool, code)
        return _link_body(request, row)

    @app.get("/v1/links/{code}/stats")
    async def link_stats(request: Request, code: str) -> dict[str, Any]:
        state = _state(request)
        row = await _find_link(state.pool, code)
        statement = "SELECT day, clicks FROM click_counts WHERE link_id = $1 ORDER BY day"
        async with state.pool.acquire() as connection:
            with db_span("SELECT", statement):
                days = await connection.fetch(statement, row["id"])
        daily = [{"date": day["day"].isoformat(), "clicks": day["clicks"]} for day in days]
        return {"code": row["code"], "total_clicks": sum(day["clicks"] for day in daily), "daily": daily}

    @app.get("/metrics")
    async def metrics(request: Request) -> Response:
        try:
            QUEUE_DEPTH.set(await _state(request).redis.llen(clicks.QUEUE))  # type: ignore[misc]
        except (OSError, ConnectionError, TimeoutError):
            logger.warning("queue depth unavailable")
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/{code}")
    async def follow(request: Request, code: str) -> Response:
        state = _state(request)
        link_id, url = await _cached_target(state, code)
        await clicks.record_click(state.redis, link_id)
        return RedirectResponse(url, status_code=302)


async def _insert_link(pool: asyncpg.Pool, url: str) -> asyncpg.Record:
    """Insert with a fresh random code, retrying on the (unlikely) collision."""
    statement = ("INSERT INTO links (code, url) VALUES ($1, $2) ON CONFLICT (code) DO NOTHING "
                 "RETURNING id, code, url, created_at")
    for _ in range(5):
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        async with pool.acquire() as connection:
            with db_span("INSERT", statement):
                row: asyncpg.Record | None = await connection.fetchrow(statement, code, url)
        if row is not None:
            return row
    raise ApiError(500, "internal_error", "could not allocate a code")


async def _find_link(pool: asyncpg.Pool, code: str) -> asyncpg.Record:
    if not CODE_PATTERN.fullmatch(code):
        raise ApiError(404, "not_found", "no such link")
    statement = "SELECT id, code, url, created_at FROM links WHERE code = $1"
    async with pool.acquire() as connection:
        with db_span("SELECT", statement):
            row: asyncpg.Record | None = await connection.fetchrow(statement, code)
    if row is None:
        raise ApiError(404, "not_found", "no such link")
    return row


async def _cached_target(state: State, code: str) -> tuple[int, str]:
    """(link id, URL) from this process's cache; on a miss from PostgreSQL, then cached (links never change)."""
    cached = state.links.get(code)
    cache_lookup("link", hit=cached is not None)
    if cached is not None:
        return cached
    row = await _find_link(state.pool, code)
    target = (int(row["id"]), str(row["url"]))
    state.links[code] = target
    return target
