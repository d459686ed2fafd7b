"""The control channel on the local backend: a hidden suite restarts the app (its data kept) and reads its
log. The same on the Docker backend: tests/docker/grader/sandbox/test_control.py.
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

CHALLENGE = load_challenge(str(REPO_ROOT / "tests" / "fixtures" / "control-challenge"))
SUBMISSION = REPO_ROOT / "challenges" / "hello-api" / "solutions" / "fastapi-ref"
pytestmark = pytest.mark.slow


def grade(sandbox: Sandbox, out: Path) -> dict[str, Any]:
    result: GradeResult = grade_submission(SUBMISSION, CHALLENGE, sandbox, out, log=lambda _: None, force=True)
    assert result.status == "graded", result.error
    return {test.name: test for check in result.checks if check.id.startswith("hidden-tests/") for test in check.tests}


def assert_hooks_worked(tests: dict[str, Any]) -> None:
    assert tests["test_a_note_survives_a_restart"].outcome == "passed", tests["test_a_note_survives_a_restart"].message
    assert tests["test_a_note_survives_a_restart"].weight == 3
    assert tests["test_the_app_log_holds_the_request"].outcome == "passed", tests["test_the_app_log_holds_the_request"]
    assert tests["test_fails_on_purpose"].outcome == "failed"


def test_local_restarts_the_app_with_its_data_and_hands_out_its_log(tmp_path: Path) -> None:
    assert_hooks_worked(grade(LocalSandbox(), tmp_path))
