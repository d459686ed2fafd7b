"""`python -m linkshort.migrate`: apply migrations/*.sql once each, in order, under an advisory lock."""

from __future__ import annotations

import logging
from pathlib import Path

import psycopg

from linkshort.config import load_settings
from linkshort.logs import configure_logging

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
LOCK_ID = 7_041_977
logger = logging.getLogger("linkshort.migrate")


def migrate(database_url: str, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply what is not applied yet; return the names applied now."""
    applied: list[str] = []
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute("SELECT pg_advisory_lock(%s)", (LOCK_ID,))
        connection.execute("CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, "
                           "applied_at TIMESTAMPTZ NOT NULL DEFAULT now())")
        done = {name for (name,) in connection.execute("SELECT name FROM schema_migrations").fetchall()}
        for path in sorted(directory.glob("*.sql")):
            if path.name in done:
                continue
            with connection.transaction():
                connection.execute(path.read_text().encode())
                connection.execute("INSERT INTO schema_migrations (name) VALUES (%s)", (path.name,))
            applied.append(path.name)
            logger.info("migration applied", extra={"migration": path.name})
    return applied


def main() -> None:
    """Entry point."""
    configure_logging()
    migrate(load_settings().database_url)


if __name__ == "__main__":
    main()
