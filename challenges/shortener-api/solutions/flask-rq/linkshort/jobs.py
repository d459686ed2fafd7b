"""RQ jobs, run by `python -m linkshort.worker`: the redirect only enqueues, the worker writes."""

from __future__ import annotations

import functools

from psycopg_pool import ConnectionPool

from linkshort.config import database_url

QUEUE_NAME = "clicks"


@functools.cache
def _database() -> ConnectionPool:
    """One small pool per worker process, opened at its first job."""
    return ConnectionPool(database_url(), min_size=1, max_size=2, open=True)


def record_click(link_id: int, day: str) -> None:
    """Add one click to the link's count for `day` (an ISO date, UTC)."""
    with _database().connection() as connection:
        connection.execute(
            "INSERT INTO click_counts (link_id, day, clicks) VALUES (%s, %s, 1) "
            "ON CONFLICT (link_id, day) DO UPDATE SET clicks = click_counts.clicks + 1",
            (link_id, day),
        )
