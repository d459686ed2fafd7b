"""The local backend with servers already on the machine (`--service-url`): URLs read and redacted, and one
clear sentence when a service is not named. A real grading with a throwaway database and an emptied Redis
database is tests/network/grader/sandbox/test_local_services.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from grader.sandbox.base import SandboxError
from grader.sandbox.local_services import LocalServices, parse_service_urls, redact
from grader.sandbox.services import ServiceRequest
from tests.conftest import REPO_ROOT

SUBMISSION = REPO_ROOT / "tests" / "fixtures" / "submissions" / "notes-redis"


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
