"""The real app on the real PostgreSQL and Redis of DATABASE_URL / REDIS_URL (emptied before each test);
the safety service is an httpx mock transport and the click queue runs its jobs at once."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import httpx
import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient
from redis import Redis
from rq import Queue

from linkshort.app import create_app
from linkshort.config import Settings
from linkshort.jobs import QUEUE_NAME
from linkshort.migrate import migrate


@dataclass
class FakeSafety:
    """Records the URLs asked; answers with `handler`, else "safe"."""

    asked: list[str] = field(default_factory=list)
    handler: Callable[[httpx.Request], httpx.Response] | None = None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.asked.append(json.loads(request.content)["url"])
        return self.handler(request) if self.handler else httpx.Response(200, json={"safe": True})


@pytest.fixture
def settings() -> Settings:
    database_url, redis_url = os.environ.get("DATABASE_URL"), os.environ.get("REDIS_URL")
    if not database_url or not redis_url:
        pytest.skip("set DATABASE_URL and REDIS_URL to a PostgreSQL and a Redis the tests may empty")
    migrate(database_url)
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute("TRUNCATE links, click_counts RESTART IDENTITY CASCADE")
    with Redis.from_url(redis_url) as redis:
        redis.flushdb()
    return Settings(database_url=database_url, redis_url=redis_url, safety_api_url="http://safety.test",
                    safety_timeout_s=0.5, safety_backoff_s=0.01, rate_limit_per_minute=5)


@pytest.fixture
def safety() -> FakeSafety:
    return FakeSafety()


@pytest.fixture
def redis(settings: Settings) -> Iterator[Redis]:
    with Redis.from_url(settings.redis_url) as connection:
        yield connection


@pytest.fixture
def eager() -> bool:
    """Run click jobs at once (True) or leave them queued for a worker (False)."""
    return True


@pytest.fixture
def app(settings: Settings, safety: FakeSafety, redis: Redis, eager: bool) -> Iterator[Flask]:
    queue = Queue(QUEUE_NAME, connection=redis, is_async=not eager)
    application = create_app(settings, safety_transport=httpx.MockTransport(safety), queue=queue)
    yield application
    application.extensions["linkshort"].close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()
