"""Database engine and sessions, on PostgreSQL (asyncpg) or SQLite (aiosqlite).

The app goes through a single pooled connection: sessions take turns on it (a session waits for the
connection instead of failing), so two requests never write at the same time and PostgreSQL never sees
more than one connection from us. On SQLite, which lets one connection write at a time anyway, WAL mode
keeps the file readable by other processes (a backup, the sqlite3 shell) while the app writes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from app.config import async_database_url, is_sqlite
from app.models import Base


def _set_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")  # ms to wait for another process's write
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class Database:
    """The engine and a session factory."""

    def __init__(self, url: str) -> None:
        self.engine: AsyncEngine = create_async_engine(async_database_url(url), pool_size=1, max_overflow=0)
        if is_sqlite(url):
            event.listen(self.engine.sync_engine, "connect", _set_sqlite_pragmas)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    async def create_tables(self) -> None:
        """Create the tables that do not exist yet (run at start-up; existing data is kept)."""
        async with self.engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session; callers commit what they want to keep, anything else is rolled back on exit."""
        async with self.sessions() as session:
            yield session

    async def ping(self) -> None:
        """Run a trivial query; raises when the database does not answer."""
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()
