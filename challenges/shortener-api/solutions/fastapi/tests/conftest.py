"""Tests run the real app in-process (ASGI) on the real PostgreSQL and Redis named by DATABASE_URL and
REDIS_URL (the database is emptied before each test); the safety service is an httpx mock transport. Click
tasks go through the real Celery broker (that Redis), and `running_worker` runs a real Celery worker on a
thread of the test process."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import asyncpg
import httpx
import pytest
from celery.contrib.testing.worker import start_worker
from fastapi import FastAPI
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from redis.asyncio import Redis

from shortener import tasks
from shortener.config import Settings
from shortener.main import create_app
from shortener.migrate import migrate
from shortener.telemetry import setup_tracing

SafetyHandler = Callable[[httpx.Request], httpx.Response]


def _service_urls() -> tuple[str, str]:
    database_url, redis_url = os.environ.get("DATABASE_URL"), os.environ.get("REDIS_URL")
    if not database_url or not redis_url:
        pytest.skip("set DATABASE_URL and REDIS_URL to a PostgreSQL and a Redis the tests may empty")
    return database_url, redis_url


@dataclass
class FakeSafety:
    """The safety service as an httpx transport: records the URLs asked, answers with `handler`."""

    asked: list[str] = field(default_factory=list)
    handler: SafetyHandler | None = None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.asked.append(json.loads(request.content)["url"])
        if self.handler is not None:
            return self.handler(request)
        return httpx.Response(200, json={"safe": True})


@pytest.fixture
async def settings() -> AsyncIterator[Settings]:
    database_url, redis_url = _service_urls()
    await migrate(database_url)
    connection = await asyncpg.connect(database_url)
    await connection.execute("TRUNCATE links, click_counts RESTART IDENTITY CASCADE")
    await connection.close()
    redis = Redis.from_url(redis_url)
    await redis.flushdb()
    await redis.aclose()
    yield Settings(database_url=database_url, redis_url=redis_url, safety_api_url="http://safety.test",
                   safety_timeout_s=0.5, safety_backoff_s=0.01, rate_limit_per_minute=5)


@pytest.fixture
def safety() -> FakeSafety:
    return FakeSafety()


@pytest.fixture
async def app(settings: Settings, safety: FakeSafety) -> AsyncIterator[FastAPI]:
    application = create_app(settings, safety_transport=httpx.MockTransport(safety))
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        yield http


@pytest.fixture
async def redis(settings: Settings) -> AsyncIterator[Redis]:
    connection = Redis.from_url(settings.redis_url)
    yield connection
    await connection.aclose()


@pytest.fixture
async def pool(settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    created = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=2)
    yield created
    await created.close()


@pytest.fixture
async def click_store(settings: Settings) -> AsyncIterator[None]:
    """The database `count_click` writes to, as the worker opens it at start."""
    await asyncio.to_thread(tasks.use_database, settings.database_url)
    yield
    await asyncio.to_thread(tasks.close_database)  # its loop cannot run on the test's running loop's thread


@asynccontextmanager
async def running_worker() -> AsyncIterator[None]:
    """A real Celery worker (solo pool, the app's queue and settings) consuming on a thread until the block ends."""
    worker = start_worker(tasks.celery_app, pool="solo", concurrency=1, perform_ping_check=False,
                          shutdown_timeout=30)
    await asyncio.to_thread(worker.__enter__)
    try:
        yield
    finally:
        await asyncio.to_thread(worker.__exit__, None, None, None)


_EXPORTER = InMemorySpanExporter()
_exporting: list[bool] = []  # whether _EXPORTER is attached to the (process-wide) tracer provider


@pytest.fixture
def spans() -> InMemorySpanExporter:
    """The spans the app and an in-process worker end from now on (the tracer provider is the app's own)."""
    if not _exporting:
        setup_tracing().add_span_processor(SimpleSpanProcessor(_EXPORTER))
        _exporting.append(True)
    _EXPORTER.clear()
    return _EXPORTER
