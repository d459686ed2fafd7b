"""The `stop_app` fixture on the local backend: a hidden suite sends the app SIGTERM (and SIGINT) with requests
in flight and reads how they ended, for an app that finishes them, one that dies at once and one that ignores
the signal until the grader's SIGKILL; the app comes back for the next test each time. The same on Docker:
tests/docker/grader/sandbox/test_stop_app.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from grader.challenge import load_challenge
from grader.models import GradeResult
from grader.pipeline import grade_submission
from grader.sandbox.base import Sandbox
from grader.sandbox.local import LocalSandbox
from tests.conftest import REPO_ROOT

CHALLENGE = load_challenge(str(REPO_ROOT / "tests" / "fixtures" / "stop-challenge"))
SUBMISSION = REPO_ROOT / "tests" / "fixtures" / "submissions" / "stop-modes"
EXPECTED = (
    "test_a_graceful_app_finishes_its_requests",
    "test_an_app_that_dies_at_once_leaves_its_requests_unanswered",
    "test_an_app_that_ignores_the_signal_is_killed_after_the_grace",
    "test_other_signals_and_nothing_in_flight",
)
pytestmark = pytest.mark.slow


def grade(sandbox: Sandbox, out: Path) -> GradeResult:
    result = grade_submission(SUBMISSION, CHALLENGE, sandbox, out, log=lambda _: None, force=True)
    assert result.status == "graded", result.error
    return result


def assert_every_record_was_right(result: GradeResult) -> None:
    """Each hidden test asserts one record (tests/fixtures/stop-challenge/hidden/test_stop.py); all pass, and the
    app ran to the end of the suite (started again after each stop)."""
    tests: dict[str, Any] = {test.name: test for check in result.checks if check.id.startswith("hidden-tests/")
                             for test in check.tests}
    assert sorted(tests) == sorted(EXPECTED)
    for name, test in tests.items():
        assert test.outcome == "passed", (name, test.message)
    assert result.app is not None and result.app.started and result.app.exit_code is None
    assert result.app.log_tail.count("app: started") == 1 + len(EXPECTED)  # first start, then once per stop


def test_local_stop_app_reports_how_requests_in_flight_ended(tmp_path: Path) -> None:
    assert_every_record_was_right(grade(LocalSandbox(), tmp_path))
