"""The pipeline is a sequence of steps over frozen records; backends run ready requests; environments.py decides.

Read from the source where the point is where code lives (as `test_gateways.py` does); run the steps for real
on a bundled solution where the point is what a step builds. A stand-in backend (no engine) shows the error
path keeping what the steps before the failure found; tests/test_golden.py and tests/test_end_to_end.py grade
for real.
"""

from __future__ import annotations

import ast
import dataclasses
import shutil
import sys
from pathlib import Path

import pytest

import grader.steps.environment
from grader import cache
from grader.challenge import load_challenge
from grader.checks.registry import HIDDEN_TESTS, static_checks_in
from grader.checks.spec import CheckContext, RunsIn
from grader.environments import WheelSet, dependency_record, environment_key, explain
from grader.models import AppRun, Finding, Severity
from grader.pipeline import grade_submission
from grader.resolve import Resolution
from grader.sandbox import base
from grader.sandbox.base import (
    AppRunRequest,
    Environment,
    EnvironmentRequest,
    Environments,
    Foundation,
    RunOutcome,
    Sandbox,
    SandboxError,
    StaticJob,
)
from grader.sandbox.docker import DockerSandbox
from grader.sandbox.local import LocalSandbox
from grader.steps import records
from grader.steps.environment import sandbox_info
from grader.steps.intake import read_project, take
from grader.steps.records import GradingRequest, Prepared, hidden_suite
from grader.steps.runs import app_run_request, static_job
from tests.conftest import REPO_ROOT

GRADER = REPO_ROOT / "grader"
FASTAPI_REF = REPO_ROOT / "challenges" / "hello-api" / "solutions" / "fastapi-ref"
CHALLENGE = load_challenge("hello-api")


def sources(*parts: str) -> list[tuple[str, ast.Module]]:
    """The modules under grader/<parts>, by path relative to the repository."""
    root = GRADER.joinpath(*parts)
    paths = [root] if root.suffix == ".py" else sorted(root.rglob("*.py"))
    return [(p.relative_to(REPO_ROOT).as_posix(), ast.parse(p.read_text(encoding="utf-8"))) for p in paths]


def docstrings(tree: ast.Module) -> set[int]:
    """The ids of the docstring nodes in `tree` (a docstring may name a module; code may not)."""
    return {id(node.body[0].value) for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body
            and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}


# --- the shape of the code ---------------------------------------------------------------------------------


@pytest.mark.parametrize("record", [
    records.GradingRequest, records.Taken, records.Intake, records.Resolved, records.Prepared, records.Runs,
    records.Scored, base.Foundation, base.EnvironmentRequest, base.Environment, base.Environments,
    base.AppRunRequest, base.StaticJob, base.RunOutcome,
], ids=lambda record: record.__name__)
def test_every_record_a_step_or_a_backend_passes_on_is_frozen(record: type) -> None:
    assert dataclasses.is_dataclass(record) and record.__dataclass_params__.frozen  # type: ignore[attr-defined]


def test_no_step_asserts_that_an_earlier_step_filled_something_in() -> None:
    """Each step receives the record it needs; nothing checks at run time that a field was set."""
    asserts = [f"{path}:{node.lineno}" for path, tree in [*sources("pipeline.py"), *sources("steps")]
               for node in ast.walk(tree) if isinstance(node, ast.Assert)]
    assert asserts == []


def test_backends_build_no_check_command() -> None:
    """The argv of the suite, the readiness wait and the static plan come in the request; a backend neither
    reads the check registry nor names a check's module."""
    offenders = set()
    for path, tree in sources("sandbox"):
        said = docstrings(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "grader.checks.registry":
                offenders.add(f"{path}: imports the registry")
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in said and any(
                    module in node.value for module in ("checks.run_plan", "checks.wait_for_app", "pytest_plugin")):
                offenders.add(f"{path}: names {node.value!r}")
            if isinstance(node, ast.Attribute) and node.attr == "command" and isinstance(node.ctx, ast.Load):
                offenders.add(f"{path}: calls a check's command()")
    assert sorted(offenders) == []


def test_backends_decide_no_environment_key() -> None:
    """What makes two environments the same is decided in grader.environments; a backend builds under the key."""
    offenders = [path for path, tree in sources("sandbox") for node in ast.walk(tree)
                 if isinstance(node, ast.Attribute | ast.Name)
                 and (node.attr if isinstance(node, ast.Attribute) else node.id) in ("image_key", "venv_key")]
    assert offenders == []


# --- environments ------------------------------------------------------------------------------------------


def test_environment_keys_are_the_store_keys_images_and_venvs_were_built_under() -> None:
    """Keys did not change with the move: images and venvs built before are reused."""
    image = Foundation(kind="image", name="grader-base:py3.11", identity="sha256:abc", python="3.11")
    venv = Foundation(kind="interpreter", name=sys.executable, identity="3.11", python="3.11")
    pins = ("b==1", "a==2")
    assert environment_key(image, "env", "3.11", pins) == cache.image_key("sha256:abc", "3.11", pins)
    assert environment_key(image, "runner", "3.11", pins) == cache.image_key("sha256:abc", "3.11", ("runner", *pins))
    assert environment_key(venv, "env", "3.12", pins) == cache.venv_key("3.11", pins)
    assert environment_key(image, "env", "3.11", pins) != environment_key(image, "runner", "3.11", pins)


def test_the_log_says_why_an_image_was_built_or_reused() -> None:
    built = Environment(backend="docker", key="k" * 64, python="3.11", reused=False, image="grader-env:kkkk")
    assert explain(built, "3.11") == "built image grader-env:kkkk: new requirements"
    assert explain(dataclasses.replace(built, reused=True), "3.11") == "reused image grader-env:kkkk: same requirements"


# --- the requests the runs step builds ---------------------------------------------------------------------


def prepared_for(sandbox: Sandbox, environments: Environments, out: Path) -> tuple[GradingRequest, Prepared]:
    """fastapi-ref taken in and read for real; its environments stand in (nothing is built)."""
    request = GradingRequest(source=FASTAPI_REF, challenge=CHALLENGE, sandbox=sandbox, out_root=out,
                             suite=hidden_suite(CHALLENGE), log=lambda _: None)
    intake = read_project(request, take(request))
    empty = WheelSet(out, (), Resolution((), (), None, "none"))
    resolved = records.Resolved(intake, empty, dependency_record(intake.declared, empty), 0.0)
    info = sandbox_info(request, environments.candidate, {})
    return request, Prepared(resolved, environments, info, 0.0)


def test_docker_gets_the_suite_and_the_wait_as_the_runner_sees_them(tmp_path: Path) -> None:
    image = Environment(backend="docker", key="e", python="3.11", reused=True, image="grader-env:e")
    runner = Environment(backend="docker", key="r", python="3.11", reused=True, image="grader-runner:r")
    sandbox = DockerSandbox(client=object())  # no engine is reached: only the paths are asked
    request, prepared = prepared_for(sandbox, Environments(image, runner), tmp_path)

    run = app_run_request(request, prepared, "python -m uvicorn main:app --port $PORT")

    url = f"http://127.0.0.1:{CHALLENGE.app.port}"
    assert run.suite_argv == tuple(HIDDEN_TESTS.command(CheckContext("/grader/tests", "/grader/out", app_url=url)))
    assert run.wait_argv == ("python", "-m", "checks.wait_for_app", url + CHALLENGE.app.health_path,
                             str(CHALLENGE.limits.startup_timeout_s))
    assert run.tests_dir == hidden_suite(CHALLENGE).directory and run.output_dir == tmp_path / "fastapi-ref"
    assert run.snapshot == prepared.intake.project_dir and run.environments.runner == runner

    tools = static_job(request, prepared, "tools", static_checks_in("tools"), tmp_path / "static")
    assert tools.argv == ("python", "-m", "checks.run_plan", "/grader/out/plan.json")
    assert [c.id for c in tools.plan] == [c.id for c in static_checks_in("tools")]
    assert all(c.argv[3:] == ("--submission", "/submission", "--out", "/grader/out") for c in tools.plan)
    assert tools.timeout_s == sum(c.timeout_s for c in tools.plan) + 30
    assert "lint.json" in tools.reports and "candidate_tests.json" not in tools.reports


def test_the_local_backend_gets_host_paths_a_free_port_and_the_candidates_interpreter(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    candidate = Environment(backend="local", key="e", python="3.11", reused=True, venv=venv)
    request, prepared = prepared_for(LocalSandbox(), Environments(candidate, None), tmp_path)

    run = app_run_request(request, prepared, "python app.py")

    suite_dir, out = str(hidden_suite(CHALLENGE).directory), str(tmp_path / "fastapi-ref")
    assert run.suite_argv == tuple(HIDDEN_TESTS.command(CheckContext(suite_dir, out, sys.executable, run.app_url)))
    assert run.app_url == f"http://127.0.0.1:{run.port}"
    tests = static_job(request, prepared, "candidate", static_checks_in("candidate"), tmp_path / "static")
    assert tests.argv == (str(venv / "bin" / "python"), "-m", "checks.run_plan", f"{tmp_path / 'static'}/plan.json")
    assert tests.plan[0].argv[:3] == (str(venv / "bin" / "python"), "-m", "checks.candidate_tests")
    assert tests.services == request.services and tests.snapshot == prepared.intake.project_dir


# --- the error path keeps what the steps before the failure found ------------------------------------------


class StandIn(Sandbox):
    """A backend with no engine: `fail_build` raises where the environment is built; `runner_problem` makes the
    suite fail to run beside a running app, saying something about its boundary on the way."""

    name = "local"
    isolated = False
    wheel_target = "host"

    def __init__(self, fail_build: bool = False, runner_problem: bool = False) -> None:
        self.fail_build, self.runner_problem = fail_build, runner_problem

    def foundation(self) -> Foundation:
        return Foundation(kind="interpreter", name="python", identity="3.11", python="3.11")

    def build(self, foundation: Foundation, request: EnvironmentRequest) -> Environment:
        if self.fail_build:
            raise SandboxError("pip could not install the requirements")
        return Environment(backend="local", key=request.key, python="3.11", reused=True)

    def check_context(self, runs_in: RunsIn, environments: Environments, input_dir: Path, output_dir: Path,
                      app_url: str = "") -> CheckContext:
        return CheckContext(str(input_dir), str(output_dir), app_url=app_url)

    def run(self, request: AppRunRequest) -> RunOutcome:
        said = Finding(message="the boundary was thin", severity=Severity.INFO, rule="sandbox.stand-in")
        return RunOutcome(app=AppRun(started=True, start_seconds=0.5), report=None,
                          runner_problem="the runner vanished" if self.runner_problem else None, findings=(said,))

    def run_static(self, job: StaticJob) -> None:
        return None


def test_the_timings_split_the_environment_step_into_resolve_download_and_build(tmp_path: Path) -> None:
    image = Environment(backend="docker", key="e", python="3.11", reused=False, image="grader-env:e")
    _, prepared = prepared_for(DockerSandbox(client=object()), Environments(image, None), tmp_path)
    wheels = dataclasses.replace(prepared.resolved.wheels, resolve_s=1.25, download_s=2.5)
    resolved = dataclasses.replace(prepared.resolved, wheels=wheels, seconds=4.0)
    timings = dataclasses.replace(prepared, resolved=resolved, seconds=7.5).timings()

    assert (timings.resolve_s, timings.download_s, timings.build_s) == (1.25, 2.5, 7.5)
    assert timings.environment_s == 11.5  # the whole step: resolution (with downloads) and the build


@pytest.fixture
def no_downloads(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    empty = WheelSet(tmp_path, (), Resolution((), (), None, "none"))
    monkeypatch.setattr(grader.steps.environment, "prepare_wheels", lambda *args, **kwargs: empty)


@pytest.mark.usefixtures("no_downloads")
def test_an_environment_that_cannot_be_built_is_an_error_with_the_dependencies_resolved(tmp_path: Path) -> None:
    source = shutil.copytree(FASTAPI_REF, tmp_path / "in" / "fastapi-ref")
    result = grade_submission(source, CHALLENGE, StandIn(fail_build=True), tmp_path / "out", log=lambda _: None)

    assert result.status == "error" and result.error == "pip could not install the requirements"
    assert result.sandbox is None  # the environment never became ready
    assert result.submission is not None and result.submission.dependencies is not None
    assert result.submission.framework == "fastapi" and result.submission.findings[-1].rule == "not-graded"
    assert result.timings.intake_s > 0 and result.timings.total_s >= result.timings.intake_s
    assert (tmp_path / "out" / "fastapi-ref" / "result.json").is_file()


@pytest.mark.usefixtures("no_downloads")
def test_a_suite_that_cannot_run_is_an_error_with_what_the_runs_said(tmp_path: Path) -> None:
    source = shutil.copytree(FASTAPI_REF, tmp_path / "in" / "fastapi-ref")
    result = grade_submission(source, CHALLENGE, StandIn(runner_problem=True), tmp_path / "out", log=lambda _: None)

    assert result.status == "error" and result.error == "the hidden suite could not run: the runner vanished"
    assert result.sandbox is not None and "the boundary was thin" in result.sandbox.warnings
    assert result.timings.app_start_s == 0.5
