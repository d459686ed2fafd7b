"""Database engine and sessions.

SQLite is used from several threads at once: every connection gets a busy timeout (a writer waits for
the lock instead of failing with "database is locked"), WAL (readers never block the writer) and
foreign keys. Transactions that write start with their first write statement (the default of Python's
sqlite3 driver), so a transaction never upgrades a stale read snapshot to a write lock.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing, contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

BUSY_TIMEOUT_S = 15
SQLITE_PRAGMAS = (
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = NORMAL",
    "PRAGMA foreign_keys = ON",
    "PRAGMA busy_timeout = 15000",
)


def create_db_engine(url: str) -> Engine:
    """An engine for `url`, with the SQLite settings above when it is SQLite."""
    is_sqlite = url.startswith("sqlite")
    connect_args: dict[str, Any] = {"timeout": BUSY_TIMEOUT_S, "check_same_thread": False} if is_sqlite else {}
    engine = create_engine(url, connect_args=connect_args, pool_size=10, max_overflow=10)
    if is_sqlite:
        event.listen(engine, "connect", _configure_sqlite_connection)
    return engine


def _configure_sqlite_connection(dbapi_connection: Any, _connection_record: Any) -> None:
    with closing(dbapi_connection.cursor()) as cursor:
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)


class Database:
    """The engine and a session factory; sessions are only handed out as context managers."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session for reads; closed at the end of the block."""
        with self._sessions() as session:
            yield session

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session in one transaction: committed when the block ends, rolled back if it raises."""
        with self._sessions() as session, session.begin():
            yield session

    def ping(self) -> None:
        """Run a trivial query; raises SQLAlchemyError when the database does not answer."""
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
