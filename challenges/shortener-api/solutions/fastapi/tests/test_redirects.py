"""Redirects from the cache, clicks through the queue and the worker, stats, health and request ids."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, format_trace_id
from redis.asyncio import Redis

from shortener import tasks
from tests.conftest import running_worker

KEY = {"X-API-Key": "test-key"}


async def _link_id(pool: asyncpg.Pool, code: str) -> int:
    link_id: int = await pool.fetchval("SELECT id FROM links WHERE code = $1", code)
    return link_id


async def _wait_for_total(client: httpx.AsyncClient, code: str, expected: int) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        stats: dict[str, Any] = (await client.get(f"/v1/links/{code}/stats")).json()
        if stats["total_clicks"] >= expected or asyncio.get_running_loop().time() > deadline:
            assert stats["total_clicks"] == expected, f"the worker counted {stats['total_clicks']} of {expected}"
            return stats
        await asyncio.sleep(0.05)


async def _create(client: httpx.AsyncClient, url: str = "https://example.com/r") -> str:
    response = await client.post("/v1/links", json={"url": url}, headers=KEY)
    assert response.status_code == 201
    code: str = response.json()["code"]
    return code


async def test_a_redirect_queues_a_task_that_a_real_worker_counts(client: httpx.AsyncClient, redis: Redis,
                                                                   click_store: None) -> None:
    code = await _create(client)
    for _ in range(3):
        response = await client.get(f"/{code}")
        assert response.status_code == 302
        assert response.headers["location"] == "https://example.com/r"
    assert await tasks.queue_depth(redis) == 3  # three messages in Redis, nothing counted yet
    assert (await client.get(f"/v1/links/{code}/stats")).json()["total_clicks"] == 0
    assert "click_queue_depth 3.0" in (await client.get("/metrics")).text
    async with running_worker():
        stats = await _wait_for_total(client, code, 3)
    today = datetime.now(UTC).date().isoformat()
    assert stats == {"code": code, "total_clicks": 3, "daily": [{"date": today, "clicks": 3}]}
    assert await tasks.queue_depth(redis) == 0


async def test_the_redirects_trace_continues_in_the_worker(client: httpx.AsyncClient, click_store: None,
                                                           spans: InMemorySpanExporter) -> None:
    code = await _create(client)
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    response = await client.get(f"/{code}", headers={"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"})
    assert response.status_code == 302
    async with running_worker():
        await _wait_for_total(client, code, 1)
    ended = [span for span in spans.get_finished_spans() if format_trace_id(span.context.trace_id) == trace_id]
    by_kind = {span.kind: span for span in ended}
    producer, consumer = by_kind[SpanKind.PRODUCER], by_kind[SpanKind.CONSUMER]
    assert producer.parent is not None and by_kind[SpanKind.SERVER].context.span_id == producer.parent.span_id
    assert consumer.parent is not None and consumer.parent.span_id == producer.context.span_id
    upsert = next(span for span in ended if span.attributes and span.attributes.get("db.operation.name") == "INSERT")
    assert upsert.parent is not None and upsert.parent.span_id == consumer.context.span_id


async def test_a_click_counts_on_the_day_it_happened(client: httpx.AsyncClient, pool: asyncpg.Pool,
                                                     click_store: None) -> None:
    code = await _create(client)
    link_id = await _link_id(pool, code)
    await asyncio.to_thread(tasks.count_click.apply, args=(link_id, "2026-01-02"), throw=True)
    await asyncio.to_thread(tasks.count_click.apply, args=(link_id, "2026-01-02"), throw=True)
    stats = (await client.get(f"/v1/links/{code}/stats")).json()
    assert stats["daily"] == [{"date": "2026-01-02", "clicks": 2}]


async def test_a_malformed_click_fails_without_counting(client: httpx.AsyncClient, pool: asyncpg.Pool,
                                                         click_store: None) -> None:
    code = await _create(client)
    link_id = await _link_id(pool, code)
    result = await asyncio.to_thread(tasks.count_click.apply, args=(link_id, "not a day"))
    assert result.failed()
    assert (await client.get(f"/v1/links/{code}/stats")).json()["total_clicks"] == 0


async def test_redirect_is_served_from_the_cache(client: httpx.AsyncClient, redis: Redis) -> None:
    code = await _create(client)
    await client.get(f"/{code}")
    assert await redis.hget(f"link:{code}", "url") == b"https://example.com/r"
    await redis.hset(f"link:{code}", "url", "https://example.com/cached")
    assert (await client.get(f"/{code}")).headers["location"] == "https://example.com/cached"


async def test_unknown_code_is_404(client: httpx.AsyncClient) -> None:
    assert (await client.get("/missing")).status_code == 404
    assert (await client.get("/v1/links/missing/stats")).status_code == 404


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
