"""The worker as it runs in production: the Procfile's `worker:` command in a process of its own."""

from __future__ import annotations

import asyncio
import os
import shlex
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

import asyncpg
import httpx
from redis.asyncio import Redis

from shortener import tasks
from shortener.config import Settings

ROOT = Path(__file__).resolve().parent.parent
KEY = {"X-API-Key": "test-key"}
DEADLINE_S = 30.0


def _worker_command() -> list[str]:
    """The Procfile's worker line, run with this interpreter."""
    line = next(line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("worker:"))
    words = shlex.split(line.removeprefix("worker:"))
    words = words[1:] if words[0] == "exec" else words
    return [sys.executable if words[0] == "python" else words[0], *words[1:]]


@asynccontextmanager
async def _worker(settings: Settings) -> AsyncIterator[subprocess.Popen[bytes]]:
    env = {**os.environ, "DATABASE_URL": settings.database_url, "REDIS_URL": settings.redis_url,
           "SAFETY_API_URL": settings.safety_api_url}
    process = subprocess.Popen(_worker_command(), cwd=ROOT, env=env,  # noqa: ASYNC220, S603  # our own command
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        await asyncio.to_thread(process.wait)


async def _eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE_S
    while not await check():
        assert loop.time() < deadline, f"after {DEADLINE_S:g} s: {what}"
        await asyncio.sleep(0.05)


async def _total(pool: asyncpg.Pool) -> int:
    total: int = await pool.fetchval("SELECT coalesce(sum(clicks), 0) FROM click_counts")
    return total


async def _upsert_waiting(pool: asyncpg.Pool) -> bool:
    """Whether the worker's upsert is running and waiting on the test's lock: a task in hand."""
    waiting: int = await pool.fetchval("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                       "AND query LIKE 'INSERT INTO click_counts%'")
    return waiting > 0


async def _stop(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGTERM)
    return await asyncio.to_thread(process.wait, DEADLINE_S)


async def test_the_worker_command_counts_clicks_and_exits_cleanly_on_sigterm(
        client: httpx.AsyncClient, settings: Settings, pool: asyncpg.Pool) -> None:
    code = (await client.post("/v1/links", json={"url": "https://example.com/w"}, headers=KEY)).json()["code"]
    for _ in range(2):
        assert (await client.get(f"/{code}")).status_code == 302
    async with _worker(settings) as worker:
        async def counted() -> bool:
            return await _total(pool) == 2

        await _eventually(counted, "the worker did not count the 2 clicks")
        assert await _stop(worker) == 0


async def test_sigterm_lets_the_task_in_hand_finish_and_leaves_the_rest_queued(
        client: httpx.AsyncClient, settings: Settings, pool: asyncpg.Pool, redis: Redis) -> None:
    code = (await client.post("/v1/links", json={"url": "https://example.com/s"}, headers=KEY)).json()["code"]
    for _ in range(3):
        assert (await client.get(f"/{code}")).status_code == 302
    async with pool.acquire() as blocker, _worker(settings) as worker:
        lock = blocker.transaction()
        await lock.start()
        try:
            await blocker.execute("LOCK TABLE click_counts IN SHARE MODE")  # the worker's upsert waits on this

            await _eventually(lambda: _upsert_waiting(pool), "the worker's upsert never ran")
            worker.send_signal(signal.SIGTERM)
            await asyncio.sleep(0.5)
            assert worker.poll() is None, "the worker exited with a task in hand"
        finally:
            await lock.rollback()  # the upsert goes on
        assert await asyncio.to_thread(worker.wait, DEADLINE_S) == 0
    assert await _total(pool) == 1  # the task in hand was finished...
    assert await tasks.queue_depth(redis) == 2  # ...and the other two clicks are still queued, not lost


async def test_a_worker_killed_with_a_task_in_hand_leaves_its_click_with_the_broker(
        client: httpx.AsyncClient, settings: Settings, pool: asyncpg.Pool, redis: Redis) -> None:
    code = (await client.post("/v1/links", json={"url": "https://example.com/k"}, headers=KEY)).json()["code"]
    assert (await client.get(f"/{code}")).status_code == 302
    async with pool.acquire() as blocker, _worker(settings) as worker:
        lock = blocker.transaction()
        await lock.start()
        try:
            await blocker.execute("LOCK TABLE click_counts IN SHARE MODE")

            await _eventually(lambda: _upsert_waiting(pool), "the worker's upsert never ran")
            worker.kill()
            await asyncio.to_thread(worker.wait, DEADLINE_S)
        finally:
            await lock.rollback()
    assert await _total(pool) == 0
    # The click is still the broker's: kombu's Redis transport keeps a delivered message in its `unacked` hash
    # until the worker acknowledges it (after the task: acks_late) and requeues it after the visibility timeout.
    assert await tasks.queue_depth(redis) == 0
    assert await redis.hlen("unacked") == 1  # type: ignore[misc]


async def test_a_click_outlives_a_database_outage(client: httpx.AsyncClient, settings: Settings,
                                                  pool: asyncpg.Pool, redis: Redis) -> None:
    code = (await client.post("/v1/links", json={"url": "https://example.com/o"}, headers=KEY)).json()["code"]
    assert (await client.get(f"/{code}")).status_code == 302
    unreachable = replace(settings, database_url="postgresql://app@127.0.0.1:9/app")  # nothing listens there
    async with _worker(unreachable) as worker:
        async def taken() -> bool:
            return await tasks.queue_depth(redis) == 0

        await _eventually(taken, "the worker took no click")
        await asyncio.sleep(1)  # let it fail at least once and schedule its retry
        assert await _stop(worker) == 0
    assert await _total(pool) == 0
    async with _worker(settings) as worker:
        async def counted() -> bool:
            return await _total(pool) == 1

        await _eventually(counted, "the click retried after the outage was not counted")
        assert await _stop(worker) == 0
