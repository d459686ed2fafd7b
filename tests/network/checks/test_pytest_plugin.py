"""The plugin's `app_log` in a real grading (local backend): an app that writes a request's JSON line after
its response is read with `json_lines(until=...)`, which reads the log again until the line is there.

The orders-api and shortener-api hidden suites read request lines this way: the orders-api FastAPI reference
logs in its middleware's `finally`, after the response, and lost a hidden test under load when the log was
read once. The fixture's app logs 1.5 s late so that a single read would miss the line.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.challenge import load_challenge
from grader.pipeline import grade_submission
from grader.sandbox.local import LocalSandbox
from tests.conftest import REPO_ROOT

FIXTURES = REPO_ROOT / "tests" / "fixtures"
pytestmark = pytest.mark.slow


def test_a_log_line_written_after_the_response_is_waited_for(tmp_path: Path) -> None:
    challenge = load_challenge(str(FIXTURES / "late-log-challenge"))
    result = grade_submission(FIXTURES / "submissions" / "late-logger", challenge, LocalSandbox(), tmp_path,
                              log=lambda _: None, force=True)
    assert result.status == "graded", result.error
    tests = {test.name: test for check in result.checks if check.id.startswith("hidden-tests/")
             for test in check.tests}
    assert sorted(tests) == ["test_a_condition_that_never_holds_gives_the_lines_back_after_the_deadline",
                             "test_a_line_written_after_the_response_is_waited_for"]
    for name, test in tests.items():
        assert test.outcome == "passed", (name, test.message)
