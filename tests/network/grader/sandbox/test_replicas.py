"""Replicas on the local backend: `[app] replicas = 2` starts two app processes on their own ports behind the
runner's round-robin proxy, the `replicas` fixture reaches each, `restart_app` restarts both, and the result
records the count; a replica that dies is evidence like the app dying. The same on Docker:
tests/docker/grader/sandbox/test_replicas.py.
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

CHALLENGE = load_challenge(str(REPO_ROOT / "tests" / "fixtures" / "replicas-challenge"))
SUBMISSIONS = REPO_ROOT / "tests" / "fixtures" / "submissions"
COUNTER = SUBMISSIONS / "replica-counter"
SINGLETON = SUBMISSIONS / "replica-singleton"  # the second replica on its data dir exits at start
pytestmark = pytest.mark.slow


def grade(submission: Path, sandbox: Sandbox, out: Path) -> GradeResult:
    result = grade_submission(submission, CHALLENGE, sandbox, out, log=lambda _: None, force=True)
    assert result.status == "graded", result.error
    return result


def hidden_tests(result: GradeResult) -> dict[str, Any]:
    return {test.name: test for check in result.checks if check.id.startswith("hidden-tests/") for test in check.tests}


def assert_replicas_ran(result: GradeResult) -> None:
    """Every hidden test passed (proxy, direct URLs, separate state, restart, stop) and the result counts two."""
    tests = hidden_tests(result)
    assert len(tests) == 6, tests
    for name, test in tests.items():
        assert test.outcome == "passed", (name, test.message)
    assert result.app is not None and result.app.started and result.app.replicas == 2
    assert result.app.exit_code is None
    # two replicas, each started three times (the restart, then the stop)
    assert result.app.log_tail.count(": started") == 6


def test_local_runs_two_replicas_behind_the_proxy(tmp_path: Path) -> None:
    assert_replicas_ran(grade(COUNTER, LocalSandbox(), tmp_path))


def assert_dead_replica_is_evidence(result: GradeResult) -> None:
    """A replica that exits at start: the app did not start, and the result says how that replica ended."""
    assert result.app is not None and not result.app.started
    assert result.app.exit_code == 5, result.app
    assert result.app.problem is not None and "exited with code 5" in result.app.problem, result.app.problem
    assert "another instance owns the data dir" in result.app.log_tail


def test_local_reports_a_replica_that_dies(tmp_path: Path) -> None:
    assert_dead_replica_is_evidence(grade(SINGLETON, LocalSandbox(), tmp_path))
