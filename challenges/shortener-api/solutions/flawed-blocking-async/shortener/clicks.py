"""Clicks travel through a Redis list: redirects push, the worker aggregates them into PostgreSQL.

The worker moves a batch to a processing list before writing it (LMOVE), and empties that list only after
the database committed: a worker stopped mid-batch leaves the batch there, and the next start requeues it.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from datetime import UTC, date, datetime

import asyncpg
from redis.asyncio import Redis

QUEUE = "clicks:queue"
PROCESSING = "clicks:processing"
BATCH_SIZE = 500
logger = logging.getLogger("shortener.clicks")


async def record_click(redis: Redis, link_id: int, at: datetime | None = None) -> None:
    """Queue one click (no database work in the request)."""
    day = (at or datetime.now(UTC)).date().isoformat()
    await redis.rpush(QUEUE, json.dumps({"link_id": link_id, "day": day}))  # type: ignore[misc]  # redis-py's union type


async def requeue_unfinished(redis: Redis) -> int:
    """Put back the batch a previous worker took but did not commit; return how many clicks."""
    moved = 0
    while await redis.lmove(PROCESSING, QUEUE, "RIGHT", "LEFT") is not None:
        moved += 1
    return moved


async def take_batch(redis: Redis, wait_s: float) -> list[bytes]:
    """Move up to BATCH_SIZE clicks to the processing list, waiting up to `wait_s` for the first."""
    first = await redis.blmove(QUEUE, PROCESSING, wait_s,  # type: ignore[arg-type]  # Redis takes fractional seconds
                               "LEFT", "RIGHT")
    if first is None:
        return []
    batch = [first]
    while len(batch) < BATCH_SIZE:
        item = await redis.lmove(QUEUE, PROCESSING, "LEFT", "RIGHT")
        if item is None:
            break
        batch.append(item)
    return batch


def aggregate(batch: list[bytes]) -> Counter[tuple[int, date]]:
    """Clicks per (link, day); malformed entries are logged and dropped."""
    counts: Counter[tuple[int, date]] = Counter()
    for raw in batch:
        try:
            entry = json.loads(raw)
            counts[(int(entry["link_id"]), date.fromisoformat(entry["day"]))] += 1
        except (ValueError, KeyError, TypeError):
            logger.warning("dropped a malformed click", extra={"entry": repr(raw)[:200]})
    return counts


async def flush(pool: asyncpg.Pool, counts: Counter[tuple[int, date]]) -> None:
    """Add the counts to click_counts in one transaction."""
    rows = [(link_id, day, clicks) for (link_id, day), clicks in sorted(counts.items())]
    async with pool.acquire() as connection, connection.transaction():
        await connection.executemany(
            "INSERT INTO click_counts (link_id, day, clicks) VALUES ($1, $2, $3) "
            "ON CONFLICT (link_id, day) DO UPDATE SET clicks = click_counts.clicks + EXCLUDED.clicks",
            rows,
        )


async def process_one_batch(redis: Redis, pool: asyncpg.Pool, wait_s: float = 1.0) -> int:
    """Take, write and acknowledge one batch; return the clicks written (0 when the queue stayed empty)."""
    batch = await take_batch(redis, wait_s)
    if not batch:
        return 0
    counts = aggregate(batch)
    if counts:
        await flush(pool, counts)
    await redis.delete(PROCESSING)
    return sum(counts.values())
