"""The local backend's hidden suite: the grader's interpreter runs the request's suite command against the app,
within the test timeout, answering its control requests."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from grader.checks.suite import REPORT_NAME
from grader.paths import checks_dir
from grader.processes import ProcessGroup
from grader.sandbox.base import AppRunRequest
from grader.sandbox.control import ControlServer, runner_environment
from grader.sandbox.local_env import essential_env

RUNNER_LOG_CHARS = 20_000
SUITE_POLL_S = 0.1  # how often the running suite is checked on and its control requests answered


@dataclass
class SuiteRun:
    """What running the hidden suite produced."""

    report: Path | None
    log: str
    problem: str | None
    seconds: float
    timed_out: bool = False


def run_suite(request: AppRunRequest, work: Path, control: ControlServer,
              services_env: Mapping[str, str]) -> SuiteRun:
    """Run the request's suite command against the app, within the test timeout."""
    report = request.output_dir / REPORT_NAME
    request.output_dir.mkdir(parents=True, exist_ok=True)
    report.unlink(missing_ok=True)  # a report left by an earlier run must not pass for this one
    cwd = work / "runner"
    cwd.mkdir()
    log_path = work / "runner.log"
    started = time.monotonic()
    env = {**_runner_environment(request.app_url, cwd),
           **runner_environment(str(control.directory), request.health_path, request.limits.startup_timeout_s),
           **services_env}
    problem = _run_with_timeout(request.suite_argv, cwd, env, log_path, request.limits.test_timeout_s, control)
    seconds = round(time.monotonic() - started, 3)
    log = log_path.read_text(errors="replace")[-RUNNER_LOG_CHARS:]
    timed_out = problem is not None
    if timed_out and report.exists():
        problem = None  # the plugin's report holds every verdict, the unfinished tests failed
    if problem is None and not report.exists():
        problem = "hidden suite wrote no report"
    return SuiteRun(report if report.exists() else None, log, problem, seconds, timed_out)


def _runner_environment(app_url: str, home: Path) -> dict[str, str]:
    env = essential_env()
    env.update(
        PYTHONPATH=str(checks_dir().parent),
        PYTHONDONTWRITEBYTECODE="1",
        HOME=str(home),
        GRADER_APP_URL=app_url,
    )
    return env


def _run_with_timeout(
    command: Sequence[str], cwd: Path, env: Mapping[str, str], log_path: Path, timeout_s: float,
    control: ControlServer,
) -> str | None:
    """Run the suite, answering its control requests; None when it finished in time, else the problem.
    Killed on timeout or Ctrl-C."""
    deadline = time.monotonic() + timeout_s
    with log_path.open("wb") as log:
        runner = ProcessGroup.start(command, cwd=cwd, env=env, stdout=log, stderr="stdout")
    try:
        while runner.poll() is None:
            if time.monotonic() > deadline:
                return f"hidden suite timed out after {timeout_s:g}s"
            control.serve()
            time.sleep(SUITE_POLL_S)
    finally:
        runner.stop(grace_s=0)
    return None
