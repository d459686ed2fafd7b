"""The grader-side database probes hidden tests use (checks.services_access), on a real PostgreSQL."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from checks.services_access import connect_database

WAIT_DEADLINE_S = 60.0  # only bounds a hang; the test waits for a state, never for a duration


@pytest.fixture
def app_database(local_postgres: str) -> Iterator[str]:
    """A throwaway database owned by the app role, with one table."""
    name = f"probe_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(local_postgres, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    url = local_postgres.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(url, autocommit=True) as app:
        app.execute("CREATE TABLE clicks (n int)")
    yield url
    with psycopg.connect(local_postgres, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE {name} WITH (FORCE)")


def _waiting_on_a_lock(url: str) -> bool:
    with psycopg.connect(url, autocommit=True) as observer:
        row = observer.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                               "AND query LIKE 'INSERT INTO clicks%%'").fetchone()
    return bool(row and row[0])


def test_writes_wait_while_blocked_and_land_afterwards(app_database: str) -> None:
    inserted = threading.Event()

    def insert() -> None:
        with psycopg.connect(app_database, autocommit=True) as app:
            app.execute("INSERT INTO clicks VALUES (1)")
        inserted.set()

    with connect_database(app_database) as database:
        with database.writes_blocked() as tables:
            assert tables == ["clicks"]
            writer = threading.Thread(target=insert)
            writer.start()
            deadline = time.monotonic() + WAIT_DEADLINE_S
            while not _waiting_on_a_lock(app_database) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert _waiting_on_a_lock(app_database), "the INSERT never waited for the grader's lock"
            assert not inserted.is_set()
            assert database.value("SELECT count(*) FROM clicks") == 0  # reads go on
        writer.join(WAIT_DEADLINE_S)
        assert inserted.is_set()
        assert database.value("SELECT count(*) FROM clicks") == 1
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):  # read-only again after the block
            database.rows("INSERT INTO clicks VALUES (2)")
