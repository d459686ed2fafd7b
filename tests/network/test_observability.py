"""A whole grading on the local backend of a tiny challenge whose hidden suite reads the app's spans and
metrics (tests/fixtures/observability-challenge): the candidate's venv gets the OpenTelemetry SDK from the
index, the app exports to the runner's receiver. The same on Docker: tests/docker/test_observability.py."""

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

BUNDLE = REPO_ROOT / "tests" / "fixtures" / "observability-challenge"
pytestmark = pytest.mark.slow


def hidden_verdicts(sandbox: Sandbox, out: Path) -> dict[str, Any]:
    """Grade the bundle's submission; each hidden test by name."""
    result: GradeResult = grade_submission(BUNDLE / "submission", load_challenge(str(BUNDLE)), sandbox, out,
                                           log=lambda _: None, force=True)
    assert result.status == "graded", result.error
    return {test.name: test for check in result.checks if check.id.startswith("hidden-tests/") for test in check.tests}


def assert_spans_and_metrics_were_read(tests: dict[str, Any]) -> None:
    traced = tests["test_work_is_traced_from_the_callers_context_and_counted"]
    assert traced.outcome == "passed", traced.message
    missing = tests["test_a_span_the_app_never_exports_fails"]
    assert missing.outcome == "failed"
    assert "did not export a span with name 'INSERT clicks'" in (missing.message or "")
    assert "GET /work (SERVER" in (missing.message or "")


def test_a_local_grading_reads_the_apps_spans_and_metrics(tmp_path: Path) -> None:
    assert_spans_and_metrics_were_read(hidden_verdicts(LocalSandbox(), tmp_path))
