"""The local backend with servers already on the machine (`--service-url`): a throwaway database per
grading, an emptied Redis database, and one clear sentence when a service is not named.

The servers are Debian's postgresql and redis-server (scripts/test.sh installs them), started privately
on free ports for this module and stopped afterwards.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis

from grader.challenge import load_challenge
from grader.pipeline import grade_submission
from grader.sandbox.base import SandboxError
from grader.sandbox.local import LocalSandbox
from grader.sandbox.local_services import LocalServices, parse_service_urls, redact
from grader.sandbox.services import ServiceRequest

from ...conftest import APP_PASSWORD, REPO_ROOT

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


def test_a_missing_service_url_is_one_sentence_naming_the_way_out() -> None:
    with pytest.raises(SandboxError) as caught:
        LocalServices({}).describe((ServiceRequest("postgres", "15"),))
    message = str(caught.value)
    assert "needs postgres 15" in message
    assert "--service-url postgres=postgresql://" in message
    assert "Docker" in message


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("mysql=mysql://localhost/x", "KIND one of postgres, redis"),
        ("postgres", "KIND=URL"),
        ("postgres=http://localhost:5432/x", "not a postgresql:// URL"),
        ("redis=redis://localhost:6379", "name a database number"),
    ],
)
def test_malformed_service_urls_are_refused(value: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_service_urls([value])


def test_passwords_never_reach_a_result() -> None:
    assert redact("postgresql://app:s3cret@db:5432/postgres") == "postgresql://app:***@db:5432/postgres"
    assert parse_service_urls(["redis=redis://:pw@localhost:6379/3"]) == {"redis": "redis://:pw@localhost:6379/3"}


def test_the_cli_says_what_a_local_grading_of_a_services_challenge_needs(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from grader.cli import main

    outcome: Any = CliRunner().invoke(main, [
        "grade", str(SUBMISSION), "--challenge", str(REPO_ROOT / "tests" / "fixtures" / "services-challenge"),
        "--sandbox", "local", "--out", str(tmp_path), "--format", "json",
    ])
    assert outcome.exit_code != 0
    assert "needs postgres 15, redis 7" in outcome.output
    assert "Traceback" not in outcome.output
