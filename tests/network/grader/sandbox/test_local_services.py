"""The local backend with servers already on the machine (`--service-url`), for real: a throwaway database
per grading and an emptied Redis database, on a grading that resolves against the package index.

The servers are Debian's postgresql and redis-server (scripts/test.sh installs them), started privately
on free ports for the session and stopped afterwards (tests/conftest.py). How URLs are read and what is
said when one is missing: tests/unit/grader/sandbox/test_local_services.py.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
import redis

from grader.challenge import load_challenge
from grader.pipeline import grade_submission
from grader.sandbox.local import LocalSandbox
from grader.sandbox.local_services import redact
from tests.conftest import APP_PASSWORD, REPO_ROOT

CHALLENGE = load_challenge(str(REPO_ROOT / "tests" / "fixtures" / "services-challenge"))
SUBMISSION = REPO_ROOT / "tests" / "fixtures" / "submissions" / "notes-redis"


def grader_databases(server_url: str) -> set[str]:
    with psycopg.connect(server_url, autocommit=True) as connection:
        return {name for (name,) in connection.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE 'grader_%'").fetchall()}


@pytest.mark.slow
def test_local_backend_grades_with_a_throwaway_database_and_an_emptied_redis(
    local_postgres: str, local_redis: str, tmp_path: Path
) -> None:
    with redis.Redis.from_url(local_redis) as store:
        store.set("left-by-someone", "1")  # the database the user gave the grader is emptied
    sandbox = LocalSandbox(service_urls={"postgres": local_postgres, "redis": local_redis})
    result = grade_submission(SUBMISSION, CHALLENGE, sandbox, tmp_path, log=lambda _: None, force=True)

    assert result.status == "graded", result.error
    tests = {t.name: t for c in result.checks if c.id.startswith("hidden-tests/") for t in c.tests}
    failed = {name: t.message for name, t in tests.items() if t.outcome != "passed"}
    assert failed.keys() == {"test_fails_on_purpose"}, failed
    assert result.sandbox is not None
    assert result.sandbox.services["postgres"] == redact(local_postgres)
    assert APP_PASSWORD not in result.model_dump_json()
    assert grader_databases(local_postgres) == set(), "the throwaway database was not dropped"
    with redis.Redis.from_url(local_redis) as store:
        assert store.dbsize() == 0
