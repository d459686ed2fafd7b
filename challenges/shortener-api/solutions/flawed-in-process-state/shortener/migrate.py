"""Apply the SQL files in migrations/ once each, in name order, recording them in schema_migrations.

`python -m shortener.migrate` runs before the server starts; an advisory lock keeps two starting
replicas from applying the same file twice.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import asyncpg

from shortener.config import load_settings
from shortener.logging_setup import configure_logging

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
LOCK_ID = 7_041_977
logger = logging.getLogger("shortener.migrate")


async def migrate(database_url: str, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply every migration not applied yet; return the names applied now."""
    connection = await asyncpg.connect(database_url)
    applied_now: list[str] = []
    try:
        await connection.execute("SELECT pg_advisory_lock($1)", LOCK_ID)
        await connection.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, "
            "applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        done = {row["name"] for row in await connection.fetch("SELECT name FROM schema_migrations")}
        for path in sorted(directory.glob("*.sql")):
            if path.name in done:
                continue
            async with connection.transaction():
                await connection.execute(path.read_text())
                await connection.execute("INSERT INTO schema_migrations (name) VALUES ($1)", path.name)
            applied_now.append(path.name)
            logger.info("migration applied", extra={"migration": path.name})
    finally:
        await connection.close()
    return applied_now


def main() -> None:
    """Entry point of `python -m shortener.migrate`."""
    configure_logging()
    asyncio.run(migrate(load_settings().database_url))


if __name__ == "__main__":
    main()
