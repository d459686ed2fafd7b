"""Click counts in PostgreSQL: one row per (link, day), added to by the worker's task (shortener.tasks)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import asyncpg

UPSERT = ("INSERT INTO click_counts (link_id, day, clicks) VALUES ($1, $2, $3) "
          "ON CONFLICT (link_id, day) DO UPDATE SET clicks = click_counts.clicks + EXCLUDED.clicks")


def click_day(at: datetime | None = None) -> str:
    """The UTC day of a click as an ISO date: taken when the click happens, not when it is counted."""
    return (at or datetime.now(UTC)).astimezone(UTC).date().isoformat()


async def add_clicks(connection: asyncpg.Connection, link_id: int, day: date, clicks: int = 1) -> None:
    """Add `clicks` to the (link, day) count in one statement (atomic, safe with concurrent workers)."""
    await connection.execute(UPSERT, link_id, day, clicks)
