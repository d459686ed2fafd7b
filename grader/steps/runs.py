"""The runs step: the static checks and the app with the challenge suite beside it, each a sandboxed run.

Every command is built here, once, from the check registry and the paths as the backend's sandbox sees them
(`Sandbox.check_context`): the static checks' plan and the command that runs it (`StaticJob`), the app's
start command, the runner's wait for the health path and the suite's pytest command (`AppRunRequest`). The
backend runs the request and returns what happened.
"""

from __future__ import annotations

import functools
import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Generic, TypeVar

from grader.app_log import failure_line
from grader.checks.registry import HIDDEN_TESTS, static_checks_in
from grader.checks.static import StaticCheckSpec, Where, plan_checks, plan_command, plan_timeout, read_check_runs
from grader.checks.suite import SuiteCheckSpec, wait_for_app_command
from grader.detect import NO_START_PROBLEM, AppSpec
from grader.models import AppRun, CheckRun
from grader.sandbox.base import (
    APP_CODE_DIR,
    AppRunRequest,
    ImageJob,
    ImageOutcome,
    RunOutcome,
    SandboxError,
    StaticJob,
    loopback_url,
)
from grader.steps.records import GradingRequest, Prepared, Runs, Suite

OVERLAP_ENV = "GRADER_OVERLAP"
T = TypeVar("T")


def run_checks_and_app(request: GradingRequest, prepared: Prepared) -> Runs:
    """The static checks and the app with its suite: at the same time when the backend allows it.

    They are independent sandbox runs on the same read-only snapshot, each writing its own files, so
    running them together changes nothing but the wall time; results keep their fixed order. The app is
    started first: its start-up and the suite are the longest path. `GRADER_OVERLAP=0` runs them one after
    the other (for measurements).
    """
    jobs = static_jobs()
    started = time.monotonic()
    if not request.sandbox.concurrent_runs or os.environ.get(OVERLAP_ENV, "1") == "0":
        static = [run for where, checks in jobs for run in run_static_job(request, prepared, where, checks)]
        static_seconds = round(time.monotonic() - started, 3)
        outcome = _run_app_stage(request, prepared)
    else:
        app = _Background(lambda: _run_app_stage(request, prepared))
        runs = [_Background(functools.partial(run_static_job, request, prepared, where, checks))
                for where, checks in jobs]
        for job in runs:  # every run ends before this grading goes on, whatever happened to the others
            job.join()
        app.join()
        static = [run for job in runs for run in job()]
        static_seconds = round(max(job.finished for job in runs) - started, 3)
        outcome = app()
    request.hooks.checkpoint()
    image = build_candidate_image(request, prepared)  # after the app's run: its build never slows the suite
    return Runs(prepared, tuple(static), static_seconds, outcome, _app_run(outcome, prepared), image)


def build_candidate_image(request: GradingRequest, prepared: Prepared) -> ImageOutcome | None:
    """The submission's own Dockerfile built and its container asked for health, when the challenge says
    `[docker] build = true` (None otherwise). The backend's failure to try is a skip, never the candidate's."""
    challenge = request.challenge
    if not challenge.docker.build:
        return None
    job = ImageJob(project_dir=prepared.intake.project_dir, environments=prepared.environments,
                   port=challenge.app.port, health_path=challenge.app.health_path, app_env=dict(challenge.app.env),
                   limits=challenge.limits)
    request.log(f"{request.name}: building its Dockerfile")
    try:
        outcome = request.sandbox.build_candidate_image(job)
    except SandboxError as exc:
        outcome = ImageOutcome("skipped", f"not built: the engine failed ({exc})")
    request.log(f"{request.name}: Dockerfile {outcome.status}: {outcome.summary}")
    return outcome


def static_jobs() -> list[tuple[Where, tuple[StaticCheckSpec, ...]]]:
    """The grader's tools in one run, the candidate's own tests in another."""
    return [("tools", static_checks_in("tools")), ("candidate", static_checks_in("candidate"))]


def run_static_job(request: GradingRequest, prepared: Prepared, where: Where,
                   checks: tuple[StaticCheckSpec, ...]) -> list[CheckRun]:
    """One static job in its own sandboxed run; a run that could not start reports its checks as errors."""
    out_dir = request.output_dir() / "static" / where
    shutil.rmtree(out_dir, ignore_errors=True)
    request.log(f"{request.name}: running {', '.join(c.id for c in checks)}")
    with request.hooks.stage("static checks" if where == "tools" else "tests"):
        try:
            request.sandbox.run_static(static_job(request, prepared, where, checks, out_dir))
        except SandboxError as exc:
            request.log(f"{request.name}: static checks could not run: {exc}")
    return read_check_runs(checks, out_dir)


def static_job(request: GradingRequest, prepared: Prepared, where: Where, checks: tuple[StaticCheckSpec, ...],
               out_dir: Path) -> StaticJob:
    """The request for one static run: its plan and the command that runs it, as the sandbox sees the paths."""
    intake, environments = prepared.intake, prepared.environments
    # The grader's tools read the whole repository (README, CI, Dockerfile count from the top); the
    # candidate's tests run in the project's folder, as its author runs them.
    root = intake.snapshot.path if where == "tools" else intake.project_dir
    context = request.sandbox.check_context(where, environments, root, out_dir)
    plan = plan_checks(checks, context)
    return StaticJob(
        environments=environments, where=where, snapshot=root, plan=plan, argv=tuple(plan_command(context)),
        timeout_s=plan_timeout(plan), limits=request.challenge.limits, output_dir=out_dir,
        app_env=dict(request.challenge.app.env), services=request.services if where == "candidate" else (),
    )


def _run_app_stage(request: GradingRequest, prepared: Prepared) -> RunOutcome | None:
    with request.hooks.stage("app"):
        return run_app(request, prepared)


def run_app(request: GradingRequest, prepared: Prepared) -> RunOutcome | None:
    """Start the app and run the suite against it; None when there is no app to start."""
    start_command = prepared.intake.app_spec.start_command
    if not start_command:
        return None
    app_request = app_run_request(request, prepared, start_command)
    request.log(f"{request.name}: starting the app: {start_command}")
    if app_request.worker_command:
        request.log(f"{request.name}: starting its worker: {app_request.worker_command}")
    return request.sandbox.run(app_request)


def app_run_request(request: GradingRequest, prepared: Prepared, start_command: str) -> AppRunRequest:
    """The request for the app's run: its start command, the runner's wait for the health path and the suite's
    pytest command, with the paths and the port as the sandbox sees them."""
    challenge, sandbox = request.challenge, request.sandbox
    port = sandbox.app_port(challenge.app.port)
    output_dir = request.output_dir()
    context = sandbox.check_context("suite-runner", prepared.environments, request.suite.directory, output_dir,
                                    app_url=loopback_url(port))
    replica_ports = sandbox.replica_ports(port, challenge.app.replicas)
    # The runner waits for every replica's health path (the app's own with one replica).
    health_urls = [loopback_url(p) + challenge.app.health_path for p in replica_ports or (port,)]
    return AppRunRequest(
        environments=prepared.environments,
        snapshot=prepared.intake.project_dir,
        start_command=start_command,
        app_env=dict(challenge.app.env),
        port=port,
        health_path=challenge.app.health_path,
        wait_argv=tuple(wait_for_app_command(context.python, health_urls, challenge.limits.startup_timeout_s)),
        suite_argv=tuple(suite_check(request.suite).command(context)),
        limits=challenge.limits,
        tests_dir=request.suite.directory,
        output_dir=output_dir,
        services=request.services,
        worker_command=prepared.intake.app_spec.worker_command,
        replica_ports=replica_ports,
    )


def suite_check(suite: Suite, fail_all_reason: str | None = None) -> SuiteCheckSpec:
    """The suite's check: the hidden tests' spec under the suite's own id."""
    return replace(HIDDEN_TESTS, id=suite.check_id, fail_all_reason=fail_all_reason)


def _app_run(outcome: RunOutcome | None, prepared: Prepared) -> AppRun:
    """What happened to the app: the backend's account, with the reason a crash gave in its log (it belongs in
    the result, not only the log); or why it was not started."""
    if outcome is None:
        return AppRun(started=False, problem=no_command_problem(prepared.intake.app_spec))
    return explain_not_ready(outcome.app, prepared)


def no_command_problem(spec: AppSpec) -> str:
    """Why there is no start command: a module that does not parse, or nothing naming an app."""
    return spec.problem or NO_START_PROBLEM


def explain_not_ready(app: AppRun, prepared: Prepared) -> AppRun:
    """An app that never became ready, with the line of its log that says why added to its `problem`."""
    if app.started:
        return app
    line = failure_line(app.log_tail, [APP_CODE_DIR, str(prepared.intake.snapshot.path)])
    if line is None or (app.problem and line in app.problem):
        return app
    return app.model_copy(update={"problem": f"{app.problem or 'did not start'}; its log says: {line}"})


class _Background(Generic[T]):
    """A call running in a daemon thread; calling the object joins it and returns (or raises) its result.

    Daemon, so an interrupted batch never waits at exit for a run the sandbox has already torn down.
    """

    def __init__(self, target: Callable[[], T]) -> None:
        self._result: T | None = None
        self._error: BaseException | None = None
        self.finished = 0.0
        self._thread = threading.Thread(target=self._run, args=(target,), daemon=True)
        self._thread.start()

    def _run(self, target: Callable[[], T]) -> None:
        try:
            self._result = target()
        except BaseException as exc:  # re-raised in the grading's own thread
            self._error = exc
        finally:
            self.finished = time.monotonic()

    def join(self) -> None:
        """Wait for the call to end."""
        self._thread.join()

    def __call__(self) -> T:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._result  # type: ignore[return-value]  # set when no error was raised
