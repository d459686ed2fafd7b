"""`python -m shortener.worker`: aggregates queued clicks into PostgreSQL until SIGTERM/SIGINT.

On a stop signal it finishes the batch in hand, then exits; a batch interrupted harder is requeued at the
next start (see shortener.clicks), so no click is lost.
"""

from __future__ import annotations

import asyncio
import logging
import signal

import asyncpg
from redis.asyncio import Redis

from shortener import clicks
from shortener.config import load_settings
from shortener.logging_setup import configure_logging

logger = logging.getLogger("shortener.worker")
RETRY_DELAY_S = 1.0


async def run_worker(stop: asyncio.Event) -> None:
    """Process batches until `stop` is set."""
    settings = load_settings()
    redis = Redis.from_url(settings.redis_url)
    pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=2)
    try:
        requeued = await clicks.requeue_unfinished(redis)
        logger.info("worker started", extra={"requeued": requeued})
        while not stop.is_set():
            try:
                written = await clicks.process_one_batch(redis, pool)
            except (OSError, asyncpg.PostgresError, ConnectionError):
                logger.exception("batch failed; requeued")
                await clicks.requeue_unfinished(redis)
                await asyncio.sleep(RETRY_DELAY_S)
                continue
            if written:
                logger.info("clicks written", extra={"clicks": written})
    finally:
        await pool.close()
        await redis.aclose()
        logger.info("worker stopped")


async def _main() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await run_worker(stop)


def main() -> None:
    """Entry point."""
    configure_logging()
    asyncio.run(_main())


if __name__ == "__main__":
    main()
