"""The worker process on the local backend: a Procfile `worker:` line runs beside the app (same data dir),
is restarted and stopped with it, its log reaches the suite (`worker_log`) and the result; a worker that
exits early is evidence in the result, not a failed grading. The same on Docker:
tests/docker/grader/sandbox/test_worker.py.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from grader.challenge import load_challenge
from grader.models import GradeResult
from grader.pipeline import grade_submission
from grader.sandbox.base import Sandbox
from grader.sandbox.local import LocalSandbox
from tests.conftest import REPO_ROOT

CHALLENGE = load_challenge(str(REPO_ROOT / "tests" / "fixtures" / "worker-challenge"))
SUBMISSIONS = REPO_ROOT / "tests" / "fixtures" / "submissions"
WORKING = SUBMISSIONS / "worker-jobs"
CRASHING = SUBMISSIONS / "worker-crashes"
pytestmark = pytest.mark.slow


def grade(submission: Path, sandbox: Sandbox, out: Path) -> GradeResult:
    result = grade_submission(submission, CHALLENGE, sandbox, out, log=lambda _: None, force=True)
    assert result.status == "graded", result.error
    return result


def hidden_tests(result: GradeResult) -> dict[str, Any]:
    return {test.name: test for check in result.checks if check.id.startswith("hidden-tests/") for test in check.tests}


def assert_worker_ran(result: GradeResult) -> None:
    """The worker did the jobs, came back after the restart, and the result names it."""
    assert result.submission.worker_command == "python worker.py"
    assert result.submission.worker_command_source == "procfile"
    for name, test in hidden_tests(result).items():
        assert test.outcome == "passed", (name, test.message)
    assert result.app is not None and result.app.worker is not None
    worker = result.app.worker
    assert worker.command == "python worker.py"
    assert worker.exit_code is None and worker.problem is None  # it ran until the grader stopped it
    assert worker.log_tail.count("worker: started") == 2 and "worker: processed" in worker.log_tail


def assert_crash_is_evidence(result: GradeResult) -> None:
    """A worker that exits at once: the app still ran and the suite too; the result says how the worker ended."""
    assert result.app is not None and result.app.started
    tests = hidden_tests(result)
    assert tests["test_the_worker_does_the_jobs"].outcome == "failed"
    assert result.app.worker is not None
    worker = result.app.worker
    assert worker.exit_code == 3
    assert worker.problem == "the worker exited with code 3 while the app ran"
    assert "cannot reach the job queue" in worker.log_tail


def processes_running(arguments: tuple[str, ...]) -> list[int]:
    """Pids of this user's processes with one of `arguments` as a whole argument (the worker's command line,
    as `sh -c` and as Python see it)."""
    wanted = {argument.encode() for argument in arguments}
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            if entry.stat().st_uid == os.getuid() and wanted & set(argv):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def test_local_runs_the_worker_beside_the_app_and_stops_it_with_it(tmp_path: Path) -> None:
    result = grade(WORKING, LocalSandbox(), tmp_path)
    assert_worker_ran(result)
    # Stopped with the app's own teardown: nothing had to be hunted down by the run's token afterwards.
    assert result.sandbox is not None
    assert not [w for w in result.sandbox.warnings if "left its process group" in w], result.sandbox.warnings
    assert not processes_running(("python worker.py", "worker.py")), "the worker outlived the grading"


def test_local_reports_a_worker_that_exits_early(tmp_path: Path) -> None:
    assert_crash_is_evidence(grade(CRASHING, LocalSandbox(), tmp_path))
