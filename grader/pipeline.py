"""The grading pipeline: a sequence of small steps from a submission path to `result.json`.

intake -> dependencies -> start command -> wheels -> environment -> run (app + hidden suite) -> score.
A step that fails because of the submission becomes evidence in the result; a step that fails because
the grader could not do its work (no engine, no network for wheels) makes the result `status: error`.
"""

from __future__ import annotations

import functools
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Generic, Literal, TypeVar

from grader import __version__
from grader.app_log import failure_line
from grader.cache import mark_image_used, snapshots_dir, touch
from grader.challenge import challenge_content_hash, hidden_tests_dir, public_tests_dir
from grader.checks.registry import HIDDEN_TESTS, static_checks_in
from grader.checks.spec import CheckContext, CheckOutput
from grader.checks.static import StaticCheckSpec, Where, read_check_runs
from grader.detect import NO_START_PROBLEM, AppSpec, detect_app
from grader.environments import (
    Declared,
    DependencyError,
    WheelSet,
    as_of_finding,
    candidate_request,
    dependency_record,
    prepare_wheels,
    read_declared,
    sandbox_target,
)
from grader.hooks import GradingHooks
from grader.intake import IntakeError, Snapshot, submission_name, take_snapshot
from grader.models import (
    PUBLIC_SUITE,
    AppRun,
    Challenge,
    CheckResult,
    CheckRun,
    DependencyRecord,
    Finding,
    GradeResult,
    SandboxInfo,
    Severity,
    SubmissionInfo,
    Timings,
)
from grader.processes import run as run_process
from grader.project import ProjectRoot, find_project_root
from grader.results import previous_result, result_dir, write_result
from grader.review import build_review
from grader.rules import effective_rules, hidden_points
from grader.sandbox.base import (
    APP_CODE_DIR,
    Environment,
    EnvironmentRequest,
    RunOutcome,
    RunPlan,
    Sandbox,
    SandboxError,
    StaticJob,
)
from grader.sandbox.services import ServiceRequest
from grader.scoring import scale_hidden_results, score_categories, score_check_runs
from grader.toolchain import installed_versions, lock_hash, locked_versions, runner_request

OVERLAP_ENV = "GRADER_OVERLAP"
FAIL_ALL_TIMEOUT_S = 300  # the hidden suite with every test failed at once: no app, no waiting
Log = Callable[[str], None]

LOCAL_WARNING = (
    "graded with the local backend: the app ran as a plain process on this machine, which is not an "
    "isolation boundary; use --sandbox docker for hiring decisions"
)


class GradingError(Exception):
    """The grader could not grade this submission (not the candidate's fault, or unusable input)."""


@dataclass(frozen=True)
class Suite:
    """The challenge suite run against the app: the hidden one (`grade`) or the public one (`check`)."""

    directory: Path
    check_id: str = HIDDEN_TESTS.id


def hidden_suite(challenge: Challenge) -> Suite:
    """The hidden suite, scored as `hidden-tests/<category>`."""
    return Suite(hidden_tests_dir(challenge))


def public_suite(challenge: Challenge) -> Suite:
    """The public suite, scored as `public-tests/<category>` with the same points as hidden tests."""
    return Suite(public_tests_dir(challenge), PUBLIC_SUITE)


@dataclass(frozen=True)
class GradingOptions:
    """How to grade, beyond the challenge: the resolution cutoff (`--resolve-as-of`) and the project's folder
    in the submission (`--root`)."""

    resolve_as_of: datetime | Literal["now"] | None = None
    root: str | None = None


@dataclass
class Grading:
    """State carried through the steps of one grading."""

    source: Path
    challenge: Challenge
    sandbox: Sandbox
    out_root: Path
    log: Log
    started: float = field(default_factory=time.monotonic)
    timings: Timings = field(default_factory=Timings)
    snapshot: Snapshot | None = None
    project: ProjectRoot | None = None
    app_spec: AppSpec | None = None
    requirements: tuple[str, ...] = ()
    declared: Declared | None = None
    dependencies: DependencyRecord | None = None
    options: GradingOptions = field(default_factory=GradingOptions)
    submission_findings: list[Finding] = field(default_factory=list)
    sandbox_info: SandboxInfo | None = None
    suite: Suite | None = None  # None: the challenge's hidden suite
    hooks: GradingHooks = field(default_factory=GradingHooks)

    @property
    def name(self) -> str:
        if self.hooks.name:  # a batch names duplicates apart
            return self.hooks.name
        return self.snapshot.name if self.snapshot else submission_name(self.source)

    @property
    def project_dir(self) -> Path:
        """The Python project's folder in the snapshot (the snapshot itself, or a monorepo's subfolder)."""
        assert self.snapshot is not None
        return self.project.path(self.snapshot.path) if self.project else self.snapshot.path

    @property
    def tests(self) -> Suite:
        """The suite this grading runs against the app."""
        return self.suite or hidden_suite(self.challenge)


def grade_submission(
    source: Path, challenge: Challenge, sandbox: Sandbox, out_root: Path, log: Log = print, force: bool = False,
    suite: Suite | None = None, hooks: GradingHooks | None = None, options: GradingOptions | None = None,
) -> GradeResult:
    """Grade one submission and write `out_root/<name>/result.json`; never raises for bad input.

    A finished result is reused when the submission's content, the challenge's content and the grader's
    version are unchanged (`force` regrades anyway). `suite` replaces the hidden suite (`grader check`
    runs the public one; pass `force=True` with it, as a reused result may come from another suite).
    `hooks` (batches): the output name, a cancel flag (raises GradingCancelled and writes nothing) and a
    stage callback. `options`: see GradingOptions.
    """
    # Absolute: backends run tools in other directories and bind-mount OUT into containers.
    grading = Grading(source=source, challenge=challenge, sandbox=sandbox, out_root=out_root.absolute(), log=log,
                      suite=suite, hooks=hooks or GradingHooks(), options=options or GradingOptions())
    try:
        with grading.hooks.stage("intake"):
            take_intake(grading)
        previous = None if force else reusable_result(grading)
        if previous is not None:
            log(f"{grading.name}: unchanged since the last grading: result reused (--force regrades)")
            grading.hooks.reused = True
            return previous
        result = _grade(grading)
    except (IntakeError, GradingError, SandboxError, DependencyError) as exc:
        grading.hooks.checkpoint()  # an interrupted run also fails: that is no result at all
        result = _error_result(grading, str(exc))
    grading.hooks.checkpoint()
    write_result(result, result_dir(out_root, grading.name))
    return result


def reusable_result(grading: Grading) -> GradeResult | None:
    """The result already in the output dir, if it graded exactly this submission with this grader."""
    previous = previous_result(grading.out_root / grading.name)
    if previous is None:
        return None
    same = (
        previous.status == "graded"
        and previous.grader_version == __version__
        and previous.submission is not None
        and grading.snapshot is not None
        and previous.submission.content_hash == grading.snapshot.content_hash
        and previous.challenge.get("content_hash") == challenge_content_hash(grading.challenge)
        and previous.sandbox is not None
        and previous.sandbox.backend == grading.sandbox.name
        and _same_cutoff(previous.submission.dependencies, grading.declared)
        and previous.tools == scoring_tools(grading.sandbox) and previous.tools_lock == lock_hash()
    )
    return previous if same else None


def scoring_tools(sandbox: Sandbox) -> dict[str, str]:
    """The versions of the tools that score on this backend: the lock's in the runner image (Docker), this
    grader's own environment's with the local backend (normally the same: pyproject pins them exactly)."""
    return locked_versions() if sandbox.wheel_target == "linux-container" else installed_versions()


def _same_cutoff(previous: DependencyRecord | None, declared: Declared | None) -> bool:
    """Whether an earlier result resolved versions with the cutoff this grading would use."""
    moment = declared.as_of.moment if declared else None
    wanted = moment.date().isoformat() if moment else None
    return previous is not None and previous.as_of == wanted


def _grade(grading: Grading) -> GradeResult:
    with grading.hooks.stage("environment"):
        wheels = fetch_wheels(grading)
        environment = prepare_environment(grading, wheels)
    runs, outcome = run_checks_and_app(grading, environment)
    grading.hooks.checkpoint()
    if outcome is not None:  # a crash's reason is in its log: it belongs in the result, not only the log
        outcome = replace(outcome, app=explain_not_ready(outcome.app, grading))
    rules = effective_rules(grading.challenge.scoring, grading.challenge.practices)
    hidden = scale_hidden_results(hidden_test_results(grading, outcome), hidden_points(grading.challenge.scoring))
    return _graded_result(grading, outcome, [*hidden, *score_check_runs(runs, rules)])


def take_intake(grading: Grading) -> None:
    """Snapshot the submission, read its dependencies and work out how to start it."""
    t0 = time.monotonic()
    grading.log(f"{grading.source}: taking a snapshot")
    snapshot = take_snapshot(grading.source, snapshots_dir())
    touch(snapshot.path)  # last use, for `grader cache prune`
    grading.snapshot = snapshot
    grading.project = find_project_root(snapshot.path, grading.options.root)
    project_dir = grading.project_dir
    declared = read_declared(project_dir, snapshot.dated, snapshot.dated_by, grading.options.resolve_as_of)
    grading.declared = declared
    grading.requirements = declared.main.requirements
    grading.app_spec = detect_app(project_dir, declared.main.requirements or (
        declared.lock.main_requirements() if declared.lock else ()))
    dated = as_of_finding(declared)
    in_project = [*declared.findings, *([dated] if dated else []), *grading.app_spec.findings]
    grading.submission_findings = [*snapshot.findings, *grading.project.findings,
                                   *(_in_folder(f, grading.project.rel) for f in in_project)]
    grading.timings.intake_s = round(time.monotonic() - t0, 3)


def _in_folder(finding: Finding, rel: str) -> Finding:
    """A finding about a project file, its path made relative to the submission (monorepos)."""
    if rel == "." or finding.file is None:
        return finding
    return finding.model_copy(update={"file": f"{rel}/{finding.file}"})


def fetch_wheels(grading: Grading) -> WheelSet:
    """Resolve the submission's exact versions and fetch their wheels on the host (source archives are built
    in a container); the sandbox installs them with no network."""
    assert grading.declared is not None
    t0 = time.monotonic()
    challenge, sandbox = grading.challenge, grading.sandbox
    request = candidate_request(grading.declared, sandbox_target(challenge.python, sandbox.wheel_target))
    grading.log(f"{grading.name}: resolving {len(request.main) + len(request.test)} requirement(s)")
    wheels = prepare_wheels(request, sandbox.builder(challenge.limits), grading.log)
    grading.submission_findings.extend(wheels.resolution.findings)
    grading.dependencies = dependency_record(grading.declared, wheels)
    grading.timings.environment_s = round(grading.timings.environment_s + time.monotonic() - t0, 3)
    return wheels


def _runner_wheels(grading: Grading) -> WheelSet:
    target = sandbox_target(grading.challenge.python, grading.sandbox.wheel_target)
    return prepare_wheels(runner_request(target), None, grading.log)


def challenge_services(challenge: Challenge) -> tuple[ServiceRequest, ...]:
    """The services the challenge declares, in a fixed order (the submission never adds any)."""
    return tuple(ServiceRequest(kind, spec.version) for kind, spec in sorted(challenge.services.items()))


def prepare_environment(grading: Grading, wheels: WheelSet) -> Environment:
    """The runner (Docker) and the candidate's environment, built once per content hash and reused."""
    sandbox, challenge = grading.sandbox, grading.challenge
    t0 = time.monotonic()
    if sandbox.wheel_target == "linux-container":
        runner_wheels = _runner_wheels(grading)
        sandbox.prepare_runner(EnvironmentRequest(challenge.python, runner_wheels.installable,
                                                  runner_wheels.directory))
    services = sandbox.describe_services(challenge_services(challenge))
    grading.log(f"{grading.name}: preparing the environment ({sandbox.name})")
    environment = sandbox.prepare(EnvironmentRequest(challenge.python, wheels.installable, wheels.directory))
    mark_image_used(environment.key)
    grading.log(f"{grading.name}: {environment.reason or 'environment ready'}")
    grading.timings.environment_s = round(grading.timings.environment_s + time.monotonic() - t0, 3)
    grading.sandbox_info = SandboxInfo(
        backend=sandbox.name,  # type: ignore[arg-type]
        isolated=sandbox.isolated,
        image=environment.image,
        image_id=environment.image_id,
        base_image=environment.base_image,
        environment_hash=environment.key,
        environment_reused=environment.reused,
        limits=challenge.limits,
        services=services,
        warnings=[] if sandbox.isolated else [LOCAL_WARNING],
    )
    return environment


def run_static_checks(grading: Grading, environment: Environment) -> list[CheckRun]:
    """The grader's tools, then the candidate's own tests, each in its own sandboxed run."""
    t0 = time.monotonic()
    runs = [run for where, checks in _static_jobs() for run in _run_static_job(grading, environment, where, checks)]
    grading.timings.static_s = round(time.monotonic() - t0, 3)
    return runs


def run_checks_and_app(grading: Grading, environment: Environment) -> tuple[list[CheckRun], RunOutcome | None]:
    """The static checks and the app with its hidden suite: at the same time when the backend allows it.

    They are independent sandbox runs on the same read-only snapshot, each writing its own files, so
    running them together changes nothing but the wall time; results keep their fixed order. The app is
    started first: its start-up and the hidden suite are the longest path. `GRADER_OVERLAP=0` runs them
    one after the other (for measurements).
    """
    if not grading.sandbox.concurrent_runs or os.environ.get(OVERLAP_ENV, "1") == "0":
        runs = run_static_checks(grading, environment)
        return runs, _run_app_stage(grading, environment)
    t0 = time.monotonic()
    app = _Background(lambda: _run_app_stage(grading, environment))
    static = [_Background(functools.partial(_run_static_job, grading, environment, where, checks))
              for where, checks in _static_jobs()]
    for job in static:  # every run ends before this grading goes on, whatever happened to the others
        job.join()
    app.join()
    runs = [run for job in static for run in job()]
    grading.timings.static_s = round(max(job.finished for job in static) - t0, 3)
    return runs, app()


def _run_app_stage(grading: Grading, environment: Environment) -> RunOutcome | None:
    with grading.hooks.stage("app"):
        return run_app(grading, environment)


def _run_static_job(grading: Grading, environment: Environment, where: Where,
                    checks: tuple[StaticCheckSpec, ...]) -> list[CheckRun]:
    """One static job in its own sandboxed run; a run that could not start reports its checks as errors."""
    assert grading.snapshot is not None
    out_dir = result_dir(grading.out_root, grading.name) / "static" / where
    shutil.rmtree(out_dir, ignore_errors=True)
    grading.log(f"{grading.name}: running {', '.join(c.id for c in checks)}")
    # The grader's tools read the whole repository (README, CI, Dockerfile count from the top); the
    # candidate's tests run in the project's folder, as its author runs them.
    root = grading.snapshot.path if where == "tools" else grading.project_dir
    job = StaticJob(root, checks, where, grading.challenge.limits, out_dir,
                    dict(grading.challenge.app.env),
                    services=challenge_services(grading.challenge) if where == "candidate" else ())
    with grading.hooks.stage("static checks" if where == "tools" else "tests"):
        try:
            grading.sandbox.run_static(environment, job)
        except SandboxError as exc:
            grading.log(f"{grading.name}: static checks could not run: {exc}")
    return read_check_runs(checks, out_dir)


T = TypeVar("T")


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


def _static_jobs() -> list[tuple[Where, tuple[StaticCheckSpec, ...]]]:
    """The grader's tools in one run, the candidate's own tests in another."""
    return [("tools", static_checks_in("tools")), ("candidate", static_checks_in("candidate"))]


def run_app(grading: Grading, environment: Environment) -> RunOutcome | None:
    """Start the app and run the hidden suite against it; None when there is no app to start."""
    assert grading.snapshot is not None and grading.app_spec is not None
    challenge, sandbox = grading.challenge, grading.sandbox
    if not grading.app_spec.start_command:
        return None
    plan = RunPlan(
        snapshot=grading.project_dir,
        start_command=grading.app_spec.start_command,
        app_env=dict(challenge.app.env),
        port=challenge.app.port,
        health_path=challenge.app.health_path,
        limits=challenge.limits,
        tests_dir=grading.tests.directory,
        output_dir=result_dir(grading.out_root, grading.name),
        services=challenge_services(challenge),
    )
    grading.log(f"{grading.name}: starting the app: {plan.start_command}")
    outcome = sandbox.run(environment, plan)
    grading.timings.app_start_s = outcome.app.start_seconds or 0.0
    grading.timings.tests_s = outcome.tests_seconds
    if grading.sandbox_info is not None:  # what the backend says about its own boundary is never dropped
        warnings = grading.sandbox_info.warnings
        warnings.extend(f.message for f in outcome.findings if f.message not in warnings)
    return outcome


def hidden_test_results(grading: Grading, outcome: RunOutcome | None) -> list[CheckResult]:
    """Scored hidden-test results; if the app never answered, every hidden test counts as failed."""
    if outcome is not None and outcome.runner_problem:
        raise GradingError(f"the hidden suite could not run: {outcome.runner_problem}")
    if outcome is not None and outcome.report is not None:
        return replace(HIDDEN_TESTS, id=grading.tests.check_id).parse(
            CheckOutput(outcome.report.parent, 0, outcome.runner_log))
    reason = _not_started_reason(outcome, grading.app_spec)
    grading.log(f"{grading.name}: {reason}")
    return fail_all_hidden_tests(grading.challenge, reason, grading.tests)


def _not_started_reason(outcome: RunOutcome | None, spec: AppSpec | None) -> str:
    if outcome is None:
        return f"the app was not started: {_no_command_problem(spec)}"
    return f"the app {outcome.app.problem or 'did not start'}"


def _no_command_problem(spec: AppSpec | None) -> str:
    """Why there is no start command: a module that does not parse, or nothing naming an app."""
    return (spec.problem if spec is not None else None) or NO_START_PROBLEM


def explain_not_ready(app: AppRun, grading: Grading) -> AppRun:
    """An app that never became ready, with the line of its log that says why added to its `problem`."""
    if app.started:
        return app
    roots = [APP_CODE_DIR, str(grading.snapshot.path)] if grading.snapshot else [APP_CODE_DIR]
    line = failure_line(app.log_tail, roots)
    if line is None or (app.problem and line in app.problem):
        return app
    return app.model_copy(update={"problem": f"{app.problem or 'did not start'}; its log says: {line}"})


def fail_all_hidden_tests(challenge: Challenge, reason: str, suite: Suite | None = None) -> list[CheckResult]:
    """Run the hidden suite (or `suite`) with every test failed for `reason`: exact counts, no app needed.

    Only the grader's own plugin and the challenge's trusted tests run here; no candidate code.
    """
    suite = suite or hidden_suite(challenge)
    check = replace(HIDDEN_TESTS, id=suite.check_id, fail_all_reason=reason)
    with tempfile.TemporaryDirectory(prefix="grader-failall-") as scratch:
        context = CheckContext(str(suite.directory), scratch, sys.executable, app_url="http://127.0.0.1:9")
        done = run_process(check.command(context), cwd=scratch, timeout_s=FAIL_ALL_TIMEOUT_S)
        return check.parse(CheckOutput(Path(scratch), done.returncode, done.output))


def _submission_info(grading: Grading) -> SubmissionInfo | None:
    snapshot, spec = grading.snapshot, grading.app_spec
    if snapshot is None:
        return None
    return SubmissionInfo(
        name=grading.name,
        source=str(grading.source),
        source_kind=snapshot.source_kind,
        content_hash=snapshot.content_hash,
        file_count=snapshot.file_count,
        framework=spec.framework if spec else None,
        start_command=spec.start_command if spec else None,
        start_command_source=spec.source if spec else None,
        requirements=list(grading.requirements),
        project_root=grading.project.rel if grading.project else ".",
        dependencies=grading.dependencies,
        findings=grading.submission_findings,
    )


def _challenge_info(challenge: Challenge) -> dict[str, str]:
    return {"id": challenge.id, "title": challenge.title, "content_hash": challenge_content_hash(challenge)}


def _graded_result(grading: Grading, outcome: RunOutcome | None, checks: list[CheckResult]) -> GradeResult:
    app = outcome.app if outcome else AppRun(started=False, problem=_no_command_problem(grading.app_spec))
    # An app that never became ready: the categories its suite measures count as 0 (docs/scoring.md).
    categories, overall, evaluated = score_categories(checks, grading.challenge.scorecard, app_ran=app.started)
    grading.timings.total_s = round(time.monotonic() - grading.started, 3)
    if outcome:
        _write_app_log(grading, outcome)
    return GradeResult(
        grader_version=__version__,
        tools=scoring_tools(grading.sandbox),
        tools_lock=lock_hash(),
        graded_at=_now(),
        status="graded",
        challenge=_challenge_info(grading.challenge),
        submission=_submission_info(grading),
        sandbox=grading.sandbox_info,
        outcome="ran" if app.started else "did_not_run",
        app=app,
        checks=checks,
        categories=categories,
        overall=overall,
        evaluated_weight=evaluated,
        bands=grading.challenge.scoring.bands,
        review=build_review(checks, categories, None if app.started else app.problem),
        timings=grading.timings,
    )


def _error_result(grading: Grading, message: str) -> GradeResult:
    grading.timings.total_s = round(time.monotonic() - grading.started, 3)
    grading.log(f"{grading.name}: not graded: {message}")
    findings = grading.submission_findings
    findings.append(Finding(message=message, severity=Severity.ERROR, rule="not-graded"))
    return GradeResult(
        grader_version=__version__,
        tools=scoring_tools(grading.sandbox),
        tools_lock=lock_hash(),
        graded_at=_now(),
        status="error",
        error=message,
        challenge=_challenge_info(grading.challenge),
        submission=_submission_info(grading),
        sandbox=grading.sandbox_info,
        overall=None,
        evaluated_weight=0,
        timings=grading.timings,
    )


def _write_app_log(grading: Grading, outcome: RunOutcome) -> None:
    path = result_dir(grading.out_root, grading.name) / "app.log"
    path.write_text(outcome.app.log_tail, encoding="utf-8")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


