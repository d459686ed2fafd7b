"""Redirects from the cache, clicks through the queue and the worker, stats, health and request ids."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
import httpx
from redis.asyncio import Redis

from shortener import clicks

KEY = {"X-API-Key": "test-key"}


async def _create(client: httpx.AsyncClient, url: str = "https://example.com/r") -> str:
    response = await client.post("/v1/links", json={"url": url}, headers=KEY)
    assert response.status_code == 201
    code: str = response.json()["code"]
    return code


async def test_redirect_queues_a_click_and_the_worker_counts_it(client: httpx.AsyncClient, redis: Redis,
                                                                 pool: asyncpg.Pool) -> None:
    code = await _create(client)
    for _ in range(3):
        response = await client.get(f"/{code}")
        assert response.status_code == 302
        assert response.headers["location"] == "https://example.com/r"
    assert await redis.llen(clicks.QUEUE) == 3
    assert (await client.get(f"/v1/links/{code}/stats")).json()["total_clicks"] == 0
    assert await clicks.process_one_batch(redis, pool, wait_s=0.1) == 3
    stats = (await client.get(f"/v1/links/{code}/stats")).json()
    today = datetime.now(UTC).date().isoformat()
    assert stats == {"code": code, "total_clicks": 3, "daily": [{"date": today, "clicks": 3}]}
    assert await redis.llen(clicks.PROCESSING) == 0


async def test_redirect_is_served_from_the_cache(client: httpx.AsyncClient, redis: Redis) -> None:
    code = await _create(client)
    await client.get(f"/{code}")
    assert await redis.hget(f"link:{code}", "url") == b"https://example.com/r"
    await redis.hset(f"link:{code}", "url", "https://example.com/cached")
    assert (await client.get(f"/{code}")).headers["location"] == "https://example.com/cached"


async def test_unknown_code_is_404(client: httpx.AsyncClient) -> None:
    assert (await client.get("/missing")).status_code == 404
    assert (await client.get("/v1/links/missing/stats")).status_code == 404


async def test_an_interrupted_batch_is_requeued(redis: Redis, pool: asyncpg.Pool, client: httpx.AsyncClient) -> None:
    code = await _create(client)
    await client.get(f"/{code}")
    await client.get(f"/{code}")
    assert len(await clicks.take_batch(redis, 0.1)) == 2  # taken, then the worker "dies" before committing
    assert await clicks.requeue_unfinished(redis) == 2
    assert await clicks.process_one_batch(redis, pool, wait_s=0.1) == 2
    assert (await client.get(f"/v1/links/{code}/stats")).json()["total_clicks"] == 2


async def test_malformed_queue_entries_are_dropped(redis: Redis, pool: asyncpg.Pool) -> None:
    await redis.rpush(clicks.QUEUE, b"garbage", b'{"link_id": "x"}')
    assert await clicks.process_one_batch(redis, pool, wait_s=0.1) == 0
    assert await clicks.process_one_batch(redis, pool, wait_s=0.05) == 0


async def test_health_ready_and_request_ids(client: httpx.AsyncClient) -> None:
    health = await client.get("/health", headers={"X-Request-ID": "abc-123"})
    assert health.json() == {"status": "ok"}
    assert health.headers["x-request-id"] == "abc-123"
    ready = await client.get("/ready", headers={"X-Request-ID": "bad id with spaces"})
    assert ready.json() == {"status": "ready", "checks": {"database": "ok", "redis": "ok"}}
    assert ready.headers["x-request-id"] != "bad id with spaces"


async def test_unknown_method_is_a_json_405(client: httpx.AsyncClient) -> None:
    response = await client.delete("/v1/links/abc/stats")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
