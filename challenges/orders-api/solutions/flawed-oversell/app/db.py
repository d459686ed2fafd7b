"""Database engine, sessions, and the single-writer discipline SQLite needs.

SQLite allows one writer at a time. Every write transaction of this process goes through one
`asyncio.Lock`, so concurrent requests queue in the event loop instead of failing with
"database is locked"; `busy_timeout` covers writers from other processes (e.g. a migration).
Stock is still taken with a conditional UPDATE, so correctness never depends on the lock alone.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from app.config import async_database_url

P = ParamSpec("P")
R = TypeVar("R")


def _set_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")  # ms a writer waits for another process's lock
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class Database:
    """The engine, a session factory and the process-wide write lock."""

    def __init__(self, url: str) -> None:
        self.engine: AsyncEngine = create_async_engine(async_database_url(url))
        event.listen(self.engine.sync_engine, "connect", _set_sqlite_pragmas)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._write_lock = asyncio.Lock()

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncSession]:
        """A session for queries; nothing it does is committed."""
        async with self.sessions() as session:
            yield session

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[AsyncSession]:
        """A session in one transaction, committed on success and rolled back on any exception."""
        async with self._write_lock, self.sessions() as session, session.begin():
            yield session

    async def ping(self) -> None:
        """Run a trivial query; raises when the database does not answer."""
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()


def transactional(
    func: Callable[Concatenate[AsyncSession, P], Awaitable[R]],
) -> Callable[Concatenate[Database, P], Awaitable[R]]:
    """Run a unit of work in one write transaction: `f(session, ...)` becomes `f(db, ...)`."""

    @functools.wraps(func)
    async def wrapper(db: Database, /, *args: P.args, **kwargs: P.kwargs) -> R:
        async with db.writing() as session:
            return await func(session, *args, **kwargs)

    return wrapper
