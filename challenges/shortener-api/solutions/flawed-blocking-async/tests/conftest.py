"""Tests run the real app in-process (ASGI) on the real PostgreSQL and Redis named by DATABASE_URL and
REDIS_URL (the database is emptied before each test); the safety service is an httpx mock transport."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis

from shortener.config import Settings
from shortener.main import create_app
from shortener.migrate import migrate

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
