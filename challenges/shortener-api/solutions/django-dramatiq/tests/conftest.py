"""The real app on the real PostgreSQL and Redis of DATABASE_URL / REDIS_URL (pytest-django makes its own
`test_<name>` database; the Redis database is emptied before each test); the safety service is an httpx
mock transport, never the network."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import dramatiq
import httpx
import pytest
from django.conf import settings
from django.test import Client
from dramatiq.brokers.redis import RedisBroker
from redis import Redis

from shortener.queue import broker
from shortener.safety import SafetyClient

KEY = {"HTTP_X_API_KEY": "test-key"}


@dataclass
class FakeSafety:
    """Records the URLs asked; answers with `handler`, else "safe"."""

    asked: list[str] = field(default_factory=list)
    handler: Callable[[httpx.Request], httpx.Response] | None = None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.asked.append(json.loads(request.content)["url"])
        return self.handler(request) if self.handler else httpx.Response(200, json={"safe": True})


@pytest.fixture
def redis() -> Iterator[Redis]:
    """A clean Redis database for each test (the cache, the rate limit and the click queue live there)."""
    with Redis.from_url(settings.REDIS_URL) as connection:
        connection.flushdb()
        yield connection


@pytest.fixture
def safety(monkeypatch: pytest.MonkeyPatch) -> FakeSafety:
    """The safety service, mocked: the views get a client on an httpx mock transport, with short waits."""
    fake = FakeSafety()
    client = SafetyClient(httpx.Client(transport=httpx.MockTransport(fake)), "http://safety.test", timeout_s=0.5,
                          attempts=3, backoff_s=0.01, verdict_ttl_s=60)
    monkeypatch.setattr("shortener.views.safety_client", lambda: client)
    return fake


@pytest.fixture
def api(db: None, redis: Redis, safety: FakeSafety, settings: object) -> Client:
    """A Django test client for the API, 5 links a minute per key."""
    settings.RATE_LIMIT_PER_MINUTE = 5  # type: ignore[attr-defined]  # pytest-django's settings fixture
    return Client()


@pytest.fixture
def click_broker(redis: Redis) -> RedisBroker:
    """The Redis broker the redirect sends clicks to."""
    return broker()


@pytest.fixture
def run_worker(click_broker: RedisBroker) -> Iterator[Callable[[], None]]:
    """Process every queued click with a real Dramatiq worker (its threads use their own DB connections,
    so the tests calling it are transactional: they commit what the worker must see)."""
    worker = dramatiq.Worker(click_broker, worker_threads=1, worker_timeout=100)
    worker.start()

    def drain() -> None:
        click_broker.join(settings.CLICK_QUEUE, timeout=10_000)
        worker.join()

    yield drain
    worker.stop()
