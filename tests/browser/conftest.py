"""Fixtures for the report tests: real results graded through the CLI, and the system Chromium."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, artifacts_dir, skip_or_fail
from tests.unit.grader.report.test_cli_report import run_grader

from .browser import find_chromium

SOLUTIONS = REPO_ROOT / "challenges" / "hello-api" / "solutions"
REAL_SUBMISSIONS = ("fastapi-ref", "fastapi-flawed", "crashes-at-start", "no-code")


@pytest.fixture(scope="session")
def graded_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Real results and reports: two hello-api solutions, an app that crashes and a submission with no code.

    Graded once per session through `grader grade --sandbox local --format html,json,md,junit`.
    """
    base = tmp_path_factory.mktemp("real-grading")
    no_code = base / "no-code"
    no_code.mkdir()
    (no_code / "README.txt").write_text("I ran out of time, sorry.\n")
    sources = [SOLUTIONS / "fastapi-ref", SOLUTIONS / "fastapi-flawed",
               REPO_ROOT / "tests" / "fixtures" / "submissions" / "crashes-at-start", no_code]
    out = base / "out"
    cache = os.environ.get("GRADER_CACHE_DIR") or str(tmp_path_factory.getbasetemp() / "grader-cache")
    proc = run_grader("grade", *map(str, sources), "--challenge", "hello-api", "--sandbox", "local",
                      "--out", str(out), "--format", "html,json,md,junit", cache=Path(cache))
    assert proc.returncode == 1, proc.stderr[-3000:]  # exit 1: the no-code submission could not be graded
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    return out


@pytest.fixture(scope="session")
def chromium() -> str:
    """The system Chromium; skipped locally without it, a failure in CI."""
    found = find_chromium()
    if found is None:
        skip_or_fail("Chromium is not installed (apt-get install chromium)")
    assert found is not None
    return found


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where screenshots and PDFs go: `browser/` under $GRADER_TEST_ARTIFACTS, else under `test-artifacts/`
    in the checkout, where they outlive the run (tests/conftest.py, `artifacts_dir`)."""
    path = artifacts_dir() / "browser"
    path.mkdir(parents=True, exist_ok=True)
    return path
