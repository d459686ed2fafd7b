"""Grader-side access to the services of a grading, for hidden tests (runs in the grader's runner).

A hidden test may need to look behind the API: that the database enforces a uniqueness, that an index
exists, that an order and its stock change were committed together, or how many statements one request
cost. It asks the database itself, as the grader's superuser, never through the candidate's code. The
connection is read-only by default: the suite observes, it does not repair.

The backend puts the URLs in the runner's environment (`GRADER_DATABASE_URL`, `GRADER_REDIS_URL`); the app
never sees the superuser's password.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

DATABASE_URL_ENV = "GRADER_DATABASE_URL"
REDIS_URL_ENV = "GRADER_REDIS_URL"
T = TypeVar("T")


def database_url() -> str | None:
    """The superuser URL of the grading's PostgreSQL, or None when the challenge declares none."""
    return os.environ.get(DATABASE_URL_ENV) or None


def redis_url() -> str | None:
    """The URL of the grading's Redis, or None when the challenge declares none."""
    return os.environ.get(REDIS_URL_ENV) or None


@dataclass(frozen=True)
class UniqueIndex:
    """A unique index or constraint: its table, its plain columns, and whether it has expressions."""

    table: str
    name: str
    columns: tuple[str, ...]
    has_expressions: bool  # e.g. UNIQUE (lower(email))
    definition: str


@dataclass(frozen=True)
class ForeignKey:
    """A foreign key: `table(columns)` references `referenced_table`."""

    table: str
    columns: tuple[str, ...]
    referenced_table: str


class GraderDatabase:
    """A read-only superuser connection to the app's database, with questions hidden tests ask often."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Every row of a query (use %s placeholders)."""
        with self.connection.cursor() as cursor:
            cursor.execute(sql, params)
            return list(cursor.fetchall())

    def value(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """The first column of the first row, or None when there is no row."""
        rows = self.rows(sql, params)
        return rows[0][0] if rows else None

    def tables(self) -> list[str]:
        """The app's tables (outside PostgreSQL's own schemas), as `schema.table` unless in public."""
        return [name for (name,) in self.rows(
            "SELECT CASE WHEN n.nspname = 'public' THEN c.relname ELSE n.nspname || '.' || c.relname END "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
            "AND n.nspname NOT LIKE 'pg_toast%%' ORDER BY 1"
        )]

    def columns(self, table: str) -> list[str]:
        """The column names of one table."""
        return [name for (name,) in self.rows(
            "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 "
            "AND NOT attisdropped ORDER BY attnum", (table,)
        )]

    def tables_holding(self, value: str) -> list[tuple[str, str]]:
        """(table, column) pairs whose text-like column holds `value` in some row: where the app stored it."""
        found = []
        for table in self.tables():
            for (column,) in self.rows(
                "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped "
                "AND format_type(atttypid, NULL) IN ('text', 'character varying', 'character', 'citext') "
                "ORDER BY attnum", (table,)
            ):
                query = f"SELECT 1 FROM {_ident(table)} WHERE {_quote(column)}::text = %s LIMIT 1"
                if self.value(query, (value,)):
                    found.append((table, column))
        return found

    def unique_indexes(self, table: str | None = None) -> list[UniqueIndex]:
        """Unique indexes (primary keys left out), with the constraints that create them."""
        rows = self.rows(
            "SELECT i.indrelid::regclass::text, ic.relname, "
            "ARRAY(SELECT a.attname FROM unnest(i.indkey) WITH ORDINALITY k(attnum, n) "
            "      JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum ORDER BY k.n), "
            "i.indexprs IS NOT NULL, pg_get_indexdef(i.indexrelid) "
            "FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid "
            "JOIN pg_namespace n ON n.oid = ic.relnamespace "
            "WHERE i.indisunique AND NOT i.indisprimary AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
            "AND n.nspname NOT LIKE 'pg_toast%%' ORDER BY 1, 2"
        )
        found = [UniqueIndex(t, name, tuple(cols), bool(expr), definition) for t, name, cols, expr, definition in rows]
        return [index for index in found if table is None or index.table == table]

    def indexed_columns(self, table: str) -> list[tuple[str, ...]]:
        """The plain leading columns of every index on `table` (what a lookup or a join can use)."""
        return [tuple(cols) for (cols,) in self.rows(
            "SELECT ARRAY(SELECT a.attname FROM unnest(i.indkey) WITH ORDINALITY k(attnum, n) "
            "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum ORDER BY k.n) "
            "FROM pg_index i WHERE i.indrelid = %s::regclass", (table,)
        )]

    def foreign_keys(self) -> list[ForeignKey]:
        """Every foreign key of the app's tables."""
        return [ForeignKey(table, tuple(cols), referenced) for table, cols, referenced in self.rows(
            "SELECT c.conrelid::regclass::text, "
            "ARRAY(SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY k(attnum, n) "
            "      JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum ORDER BY k.n), "
            "c.confrelid::regclass::text FROM pg_constraint c WHERE c.contype = 'f' ORDER BY 1"
        )]

    def reset_statement_stats(self) -> None:
        """Forget every statement counted so far (pg_stat_statements)."""
        self.rows("SELECT pg_stat_statements_reset()")

    def app_statements(self) -> list[tuple[str, int]]:
        """(normalized statement, calls) run on this database since the last reset, most frequent first.

        The grader's own statement bookkeeping is left out (on the local backend it may share the app's role).
        """
        return [(query, int(calls)) for query, calls in self.rows(
            "SELECT s.query, s.calls FROM pg_stat_statements s "
            "WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND s.query NOT LIKE '%%pg_stat_statements%%' ORDER BY s.calls DESC, s.query"
        )]

    def count_app_statements(self, action: Callable[[], T]) -> tuple[T, int]:
        """Run `action` (an HTTP request, say) and count the statements the app ran meanwhile.

        Transaction control (BEGIN, COMMIT, ROLLBACK, SAVEPOINT) and session settings are not counted:
        drivers differ in how they issue them, and they cost no table access.
        """
        self.reset_statement_stats()
        result = action()
        counted = sum(calls for query, calls in self.app_statements() if not _is_bookkeeping(query))
        return result, counted

    @contextmanager
    def writes_blocked(self, tables: Sequence[str] | None = None) -> Iterator[list[str]]:
        """Block every write to the app's tables (all of them unless `tables` is given) while the block runs.

        The tables are locked in SHARE mode in a transaction of their own: reads go on, and any INSERT,
        UPDATE or DELETE waits until the block ends, then proceeds (nothing is lost or changed by the grader).
        A request that answers while writes are blocked wrote nothing in the request: the probe for "the hot
        path does not write to the database". Yields the tables locked.
        """
        locked = list(tables) if tables is not None else self.tables()
        self.connection.execute("BEGIN READ WRITE")  # the lock needs a writable transaction, it writes nothing
        try:
            if locked:
                names = ", ".join(_ident(table) for table in locked)
                self.connection.execute(f"LOCK TABLE {names} IN SHARE MODE")
            yield locked
        finally:
            self.connection.execute("ROLLBACK")


_BOOKKEEPING = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "SET ", "SHOW ", "START TRANSACTION",
                "DISCARD", "RESET", "DEALLOCATE")


def _is_bookkeeping(query: str) -> bool:
    return query.lstrip().upper().startswith(_BOOKKEEPING)


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _ident(table: str) -> str:
    """`schema.table` or `table`, each part quoted."""
    return ".".join(_quote(part) for part in table.split(".", 1))


@contextmanager
def connect_database(url: str) -> Iterator[GraderDatabase]:
    """A read-only autocommit connection to the grading's database as the grader's superuser."""
    import psycopg  # in the runner's image; imported here so the plugin loads where it is absent

    with psycopg.connect(url, autocommit=True, connect_timeout=10) as connection:
        connection.execute("SET default_transaction_read_only = on")
        yield GraderDatabase(connection)
