"""Database engine and sessions, on PostgreSQL (psycopg 3) or SQLite.

PostgreSQL: `postgresql://` URLs are driven by psycopg 3 (`postgresql+psycopg://`). Write transactions
run side by side; what keeps them correct is in the statements (conditional UPDATEs that lock the rows
they change, unique constraints), not in the connection settings. The pool is bounded (gunicorn runs one
process with 8 threads: 8 connections, plus 2 for bursts), well under the server's max_connections.

SQLite (the tests, local experiments) is used from several threads at once: every connection gets a busy
timeout (a writer waits for the lock instead of failing with "database is locked"), WAL (readers never
block the writer) and foreign keys. Transactions that write start with their first write statement (the
default of Python's sqlite3 driver), so a transaction never upgrades a stale read snapshot to a write lock.
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
POOL_SIZE = 8  # one per gunicorn thread
POOL_OVERFLOW = 2  # at most 10 connections in all
CONNECT_TIMEOUT_S = 10
_DRIVERS = {"postgresql": "postgresql+psycopg", "postgres": "postgresql+psycopg"}


def sqlalchemy_url(url: str) -> str:
    """DATABASE_URL as SQLAlchemy wants it: `postgresql://...` -> `postgresql+psycopg://...` (psycopg 3).

    SQLite URLs and URLs that already name a driver are kept as they are.
    """
    scheme, sep, rest = url.partition("://")
    return f"{_DRIVERS[scheme]}://{rest}" if sep and scheme in _DRIVERS else url


def is_sqlite(url: str) -> bool:
    """Whether the URL points at SQLite."""
    return url.startswith("sqlite")


def create_db_engine(url: str) -> Engine:
    """An engine for `url`: a bounded pool on PostgreSQL, the SQLite settings above on SQLite."""
    if not is_sqlite(url):
        return create_engine(sqlalchemy_url(url), pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW, pool_timeout=30,
                             pool_pre_ping=True, connect_args={"connect_timeout": CONNECT_TIMEOUT_S})
    engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_S, "check_same_thread": False},
                           pool_size=10, max_overflow=10)
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
