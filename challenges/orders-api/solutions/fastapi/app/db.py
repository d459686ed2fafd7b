"""Database engine, sessions and transactions, on PostgreSQL (asyncpg) or SQLite (aiosqlite).

PostgreSQL runs write transactions side by side: correctness comes from the statements themselves (stock
is taken with a conditional UPDATE, which locks the product row until the transaction ends, and unique
constraints decide races on SKUs, emails and idempotency keys). The pool stays small (at most
POOL_SIZE + POOL_OVERFLOW connections) because the server's connections are shared.

SQLite allows one writer at a time. There, every write transaction of this process goes through one
`asyncio.Lock`, so concurrent requests queue in the event loop instead of failing with "database is
locked"; WAL keeps reads going and `busy_timeout` covers writers from other processes (a migration).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from app.config import async_database_url, is_sqlite

P = ParamSpec("P")
R = TypeVar("R")

POOL_SIZE = 5  # connections kept open
POOL_OVERFLOW = 5  # extra connections under load: at most 10 in all
POOL_TIMEOUT_S = 30
CONNECT_TIMEOUT_S = 10


def _set_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")  # ms a writer waits for another process's lock
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class Database:
    """The engine, a session factory and, on SQLite, the process-wide write lock."""

    def __init__(self, url: str) -> None:
        self.is_sqlite = is_sqlite(url)
        if self.is_sqlite:
            self.engine: AsyncEngine = create_async_engine(async_database_url(url))
            event.listen(self.engine.sync_engine, "connect", _set_sqlite_pragmas)
        else:
            self.engine = create_async_engine(
                async_database_url(url), pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW,
                pool_timeout=POOL_TIMEOUT_S, pool_pre_ping=True, connect_args={"timeout": CONNECT_TIMEOUT_S},
            )
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._write_lock: asyncio.Lock | None = asyncio.Lock() if self.is_sqlite else None

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncSession]:
        """A session for queries; nothing it does is committed."""
        async with self.sessions() as session:
            yield session

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[AsyncSession]:
        """A session in one transaction, committed on success and rolled back on any exception."""
        lock = self._write_lock if self._write_lock is not None else contextlib.nullcontext()
        async with lock, self.sessions() as session, session.begin():
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
