"""CI use on a real grading (local backend, so the package index is needed): `--fail-under`, the Markdown and
JUnit outputs and `$GITHUB_STEP_SUMMARY`; then the docs/ci examples' shell steps run as a team pastes them,
installing the grader from a git repository of this checkout.

The threshold and summary functions and the examples' schema and commands are tests/unit/grader/test_ci.py.
"""


from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from grader.ci import EXIT_BELOW_THRESHOLD
from grader.models import GradeResult
from grader.report import render_markdown
from tests.conftest import REPO_ROOT
from tests.unit.grader.test_ci import FIXTURES, GITHUB, GITLAB, grader, project_version

# --- --fail-under, Markdown, JUnit and the step summary --------------------------------------------------------


@pytest.fixture(scope="module")
def crashed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str], Path]:
    """One real grading of a submission whose app crashes (a low score), with --fail-under 50."""
    out = tmp_path_factory.mktemp("fail-under")
    summary = out / "step-summary.md"
    summary.write_text("# Earlier step\n\n")
    proc = grader("grade", str(FIXTURES / "crashes-at-start"), "--challenge", "hello-api", "--sandbox", "local",
                  "--out", str(out), "--format", "md,junit", "--fail-under", "50", summary=summary)
    return out, proc, summary


def test_fail_under_exits_4_naming_the_submission(crashed: tuple[Path, Any, Path]) -> None:
    out, proc, _ = crashed
    result = GradeResult.model_validate_json((out / "crashes-at-start" / "result.json").read_text())
    assert result.status == "graded" and result.overall is not None and result.overall < 50
    assert proc.returncode == EXIT_BELOW_THRESHOLD == 4, proc.stderr
    assert f"1 submission(s) scored below --fail-under 50: crashes-at-start ({result.overall:g})" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_markdown_and_junit_reports_are_written(crashed: tuple[Path, Any, Path]) -> None:
    out, _, _ = crashed
    result = GradeResult.model_validate_json((out / "crashes-at-start" / "result.json").read_text())
    markdown = (out / "crashes-at-start" / "summary.md").read_text()
    assert markdown == render_markdown(result)
    assert markdown.startswith(f"### crashes-at-start: did not run · {result.overall:g}/100")  # the app crashed
    suites = ET.parse(out / "crashes-at-start" / "junit.xml").getroot()
    cases = suites.findall(".//testcase")
    hidden = [c for c in cases if ".hidden." in (c.get("classname") or "")]
    assert len(hidden) >= 10 and all(c.find("failure") is not None for c in hidden)  # the app never started
    assert any(c.get("name") == "test_health_returns_ok_json" for c in hidden)


def test_the_step_summary_is_appended(crashed: tuple[Path, Any, Path]) -> None:
    out, _, summary = crashed
    text = summary.read_text()
    assert text.startswith("# Earlier step\n\n")
    assert (out / "crashes-at-start" / "summary.md").read_text().strip() in text


def test_fail_under_passes_at_or_below_the_score_and_errors_keep_exit_1(
    crashed: tuple[Path, Any, Path], tmp_path: Path
) -> None:
    out, _, _ = crashed
    base = ("grade", str(FIXTURES / "crashes-at-start"), "--challenge", "hello-api", "--sandbox", "local",
            "--out", str(out), "--format", "json")
    assert grader(*base, "--fail-under", "0").returncode == 0  # result reused: fast
    assert grader(*base).returncode == 0
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"not a zip")
    both = grader(*base, str(broken), "--fail-under", "100")
    assert both.returncode == 1, both.stderr
    assert grader(*base, "--fail-under", "101").returncode == 2


# --- the docs/ci examples, run: their shell steps as a team pastes them, on a fixture submission ---------------
#
# Each job runs in a fresh directory and a fresh venv (or, for GitLab, the venv its own before_script makes),
# with nothing but the job's variables and what the CI runner itself provides. The grader is installed by the
# example's own install line, from a git repository of this checkout tagged v<version> (GRADER_REPOSITORY is
# the variable a team sets). SANDBOX is set to local (a runner without Docker: DOCKER_HOST points nowhere, so
# these jobs never touch the engine other tests share); the Docker steps are skipped by the examples' own
# conditions. Steps that `uses:` an action are not run: their inputs are checked against what the job wrote.

BASE_PYTHON = Path(getattr(sys, "_base_executable", sys.executable))
NO_ENGINE = "unix:///nonexistent/docker.sock"
SUBMISSION = REPO_ROOT / "tests" / "fixtures" / "submissions" / "stdlib-health"
GIT_IDENTITY = ["-c", "user.name=Grader Test", "-c", "user.email=grader@example.com"]


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *GIT_IDENTITY, *args], cwd=cwd, check=True, capture_output=True, timeout=120)


def copy_tree(source: Path, names: list[str], target: Path) -> None:
    for name in names:
        origin, copy = source / name, target / name
        copy.parent.mkdir(parents=True, exist_ok=True)
        if origin.is_symlink():
            copy.symlink_to(os.readlink(origin))
        elif origin.is_file():
            shutil.copy2(origin, copy)


@pytest.fixture(scope="module")
def grader_repository(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A git repository of this checkout (tracked and new files, as they are now), tagged v<version>: what
    `GRADER_REPOSITORY` names. A `file://localhost/...` URL, as pip's older URL rules need a host."""
    listing = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                             cwd=REPO_ROOT, capture_output=True, text=True, check=False, timeout=120)
    if listing.returncode != 0:
        pytest.skip("the docs/ci examples install the grader from a git repository: run this from a checkout")
    repository = tmp_path_factory.mktemp("grader-repository") / "grader"
    copy_tree(REPO_ROOT, [name for name in listing.stdout.split("\0") if name], repository)
    git(repository, "init", "--quiet")
    git(repository, "add", "-A")
    git(repository, "commit", "--quiet", "-m", "the grader as checked out")
    git(repository, "tag", f"v{project_version()}")
    return f"file://localhost{repository}"


def checkout_submission(target: Path) -> Path:
    """What the CI's checkout gives: the fixture submission as a git repository."""
    shutil.copytree(SUBMISSION, target)
    git(target, "init", "--quiet")
    git(target, "add", "-A")
    git(target, "commit", "--quiet", "-m", "the candidate's work")
    return target


MACHINE_NETWORK = re.compile(r"SSL_CERT|CA_BUNDLE|CA_CERTS|CAINFO|_PROXY$|^PIP_|^UV_", re.IGNORECASE)


def runner_environment(path_prefix: Path, **provided: str) -> dict[str, str]:
    """What a CI runner gives every step before the job's own variables: a PATH, a HOME, no engine, and this
    machine's way to the package index (its CA bundle, proxy and index settings), as a runner has its own."""
    network = {key: value for key, value in os.environ.items() if MACHINE_NETWORK.search(key)}
    return {**network, "PATH": f"{path_prefix}:/usr/local/bin:/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root"),
            "LANG": "C.UTF-8", "DOCKER_HOST": NO_ENGINE, **provided}


def run_script(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """A step's script as GitHub's and GitLab's bash runs it: stop at the first failing command."""
    return subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script], cwd=cwd, env=env,
                          capture_output=True, text=True, check=False, timeout=1500)


@dataclass
class StepRun:
    name: str
    ran: bool
    proc: subprocess.CompletedProcess[str] | None = None


@dataclass
class GitHubJob:
    """Runs a workflow job's `run:` steps in order, as GitHub's runner does, and keeps what each did."""

    job: dict[str, Any]
    workspace: Path
    temp: Path
    env: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)
    steps: list[StepRun] = field(default_factory=list)
    failed: bool = False

    def expression(self, text: str) -> str:
        """`${{ github.workspace }}`, `${{ runner.temp }}` and `${{ env.X }}` filled in; anything else is an error."""
        values = {"github.workspace": str(self.workspace), "github.run_id": "1", "runner.temp": str(self.temp),
                  "runner.os": "Linux",
                  **{f"env.{k}": v for k, v in self.env.items()}}

        def fill(match: re.Match[str]) -> str:
            assert match.group(1) in values, f"the test does not know the expression {match.group(0)}"
            return values[match.group(1)]

        return re.sub(r"\$\{\{\s*([\w.]+)\s*\}\}", fill, text)

    def condition(self, text: str | None) -> bool:
        """A step's `if:`: always(), success(), env.X == 'v', steps.ID.outputs.K == 'v', &&, ||."""
        text = text or "success()"
        if not re.search(r"\b(always|success|failure)\(\)", text):
            text = f"success() && ({text})"
        python = text.replace("always()", "True").replace("success()", repr(not self.failed))
        python = python.replace("failure()", repr(self.failed)).replace("&&", " and ").replace("||", " or ")
        python = re.sub(r"\benv\.(\w+)", lambda m: repr(self.env.get(m.group(1), "")), python)
        python = re.sub(r"\bsteps\.([\w-]+)\.outputs\.(\w+)",
                        lambda m: repr(self.outputs.get(m.group(1), {}).get(m.group(2), "")), python)
        return bool(eval(python, {"__builtins__": {}}))  # our own example's conditions, nothing else

    def run(self, base_env: dict[str, str]) -> None:
        self.env = {**base_env}
        self.env.update({key: self.expression(str(value)) for key, value in self.job["env"].items()})
        for number, step in enumerate(self.job["steps"]):
            name = step.get("name", f"step {number}")
            if "run" not in step or not self.condition(step.get("if")):
                self.steps.append(StepRun(name, ran=False))
                continue
            assert "${{" not in step["run"], f"{name}: the test does not fill in expressions inside run:"
            output = self.temp / f"output-{number}"
            output.write_text("")
            env = {**self.env, "GITHUB_OUTPUT": str(output)}
            proc = run_script(step["run"], self.workspace / step.get("working-directory", "."), env)
            self.steps.append(StepRun(name, True, proc))
            self.failed = self.failed or proc.returncode != 0
            if "id" in step:
                self.outputs[step["id"]] = dict(line.split("=", 1) for line in output.read_text().splitlines() if line)

    def step(self, name: str) -> StepRun:
        return next(step for step in self.steps if step.name == name)

    def uses(self, action: str) -> dict[str, str]:
        """The inputs of the step that uses `action`, with expressions filled in."""
        step = next(step for step in self.job["steps"] if step.get("uses", "").startswith(action))
        return {key: self.expression(str(value)) for key, value in step.get("with", {}).items()}


def assert_junit_reports(files: list[Path]) -> None:
    """Each JUnit file parses and holds the hidden tests (the app ran: most failed, /health passed)."""
    assert files, "no junit.xml where the example's test report looks"
    for file in files:
        cases = ET.parse(file).getroot().findall(".//testcase")
        hidden = [case for case in cases if ".hidden." in (case.get("classname") or "")]
        assert len(hidden) >= 10 and any(case.find("failure") is None for case in hidden)


@pytest.mark.slow
def test_the_github_workflow_steps_grade_a_submission_as_pasted(grader_repository: str, tmp_path: Path) -> None:
    workflow = yaml.safe_load(GITHUB.read_text())
    (job_config,) = workflow["jobs"].values()
    workspace, temp = tmp_path / "work", tmp_path / "runner-temp"
    temp.mkdir()
    checkout_submission(workspace / "submission")
    subprocess.run([str(BASE_PYTHON), "-m", "venv", str(tmp_path / "python")], check=True, timeout=300)  # setup-python
    summary = temp / "step-summary.md"
    base = runner_environment(tmp_path / "python" / "bin", RUNNER_TEMP=str(temp), GITHUB_WORKSPACE=str(workspace),
                              GITHUB_STEP_SUMMARY=str(summary), RUNNER_OS="Linux", CI="true", GITHUB_ACTIONS="true")
    job = GitHubJob({**job_config, "env": {**job_config["env"], "GRADER_REPOSITORY": grader_repository,
                                           "SANDBOX": "local"}}, workspace, temp)
    job.run(base)

    install = job.step("Install the grader")
    assert install.proc is not None and install.proc.returncode == 0, install.proc and install.proc.stderr
    grade = job.step("Grade")
    assert grade.proc is not None, [step.name for step in job.steps]
    # The fixture scores about 32: under the example's FAIL_UNDER of 70, so the job fails, and says why.
    assert grade.proc.returncode == EXIT_BELOW_THRESHOLD, grade.proc.stderr
    assert "scored below --fail-under 70: submission (" in grade.proc.stderr
    assert not job.step("Load the sandbox images").ran and not job.step("Pack the sandbox images when they changed").ran
    prune = job.step("Prune the grader's cache")  # runs after the failure: if: always()
    assert prune.proc is not None and prune.proc.returncode == 0, prune.proc.stderr

    results = temp / "grader-results"
    result = GradeResult.model_validate_json((results / "submission" / "result.json").read_text())
    assert result.status == "graded" and result.sandbox is not None and result.sandbox.backend == "local"
    assert result.submission is not None and result.submission.source_kind == "git"  # graded from git HEAD
    markdown = summary.read_text()
    assert markdown.startswith(f"### submission: {result.overall:g}/100") and "local backend (not isolated)" in markdown
    assert_junit_reports([Path(p) for p in glob.glob(job.uses("mikepenz/action-junit-report")["report_paths"],
                                                      recursive=True)])
    uploaded = Path(job.uses("actions/upload-artifact")["path"])
    assert (uploaded / "submission" / "report.html").is_file() and (uploaded / "submission" / "summary.md").is_file()
    cached = [line.strip() for line in job.uses("actions/cache@")["path"].splitlines() if line.strip()]
    cache_dir = Path(cached[0])
    assert cache_dir == Path(job.env["GRADER_CACHE_DIR"]) and (cache_dir / "files").is_dir(), cached
    assert all(Path(line[1:]).parent == cache_dir for line in cached if line.startswith("!"))

    # The same step with a threshold the submission meets passes (its result is reused).
    again = run_script(job_config["steps"][[s.get("name") for s in job_config["steps"]].index("Grade")]["run"],
                       workspace / "submission", {**job.env, "FAIL_UNDER": "30"})
    assert again.returncode == 0, again.stderr


@pytest.mark.slow
def test_the_gitlab_job_grades_a_submission_as_pasted(grader_repository: str, tmp_path: Path) -> None:
    job = yaml.safe_load(GITLAB.read_text())["grade"]
    project = checkout_submission(tmp_path / "builds" / "submission")
    image = tmp_path / "image-bin"  # python:3.11-slim: `python` is the image's Python
    image.mkdir()
    (image / "python").symlink_to(BASE_PYTHON)
    env = runner_environment(image, CI_PROJECT_DIR=str(project), CI="true", GITLAB_CI="true")
    variables = {**job["variables"], "GRADER_REPOSITORY": grader_repository, "SANDBOX": "local"}
    for key in ("DOCKER_HOST", "DOCKER_TLS_CERTDIR"):  # with SANDBOX local, docs/ci/README.md drops the dind service
        variables.pop(key)
    for key, value in variables.items():  # GitLab expands $VARIABLES in variables
        env[key] = re.sub(r"\$\{?(\w+)\}?", lambda m: env.get(m.group(1), ""), str(value))

    script = run_script("\n".join([*job["before_script"], *job["script"]]), project, env)
    after = run_script("\n".join(job["after_script"]), project, env)  # runs whatever the script did
    assert script.returncode == EXIT_BELOW_THRESHOLD, script.stderr[-3000:]
    assert "scored below --fail-under 70: submission (" in script.stderr
    assert after.returncode == 0, after.stderr

    result = GradeResult.model_validate_json((project / "grader-results" / "submission" / "result.json").read_text())
    assert result.status == "graded" and result.sandbox is not None and result.sandbox.backend == "local"
    assert result.submission is not None and result.submission.file_count == 2  # HEAD only: not .grader/
    assert_junit_reports(sorted(project.glob(job["artifacts"]["reports"]["junit"])))
    assert all((project / path).exists() for path in job["artifacts"]["paths"])
    assert (project / "grader-results" / "submission" / "report.html").is_file()
    kept = [project / path for path in job["cache"]["paths"]]
    assert all(path.is_relative_to(project / ".grader") for path in kept)
    assert (project / ".grader" / "cache" / "files").is_dir() and (project / ".grader" / "cache" / "uv").is_dir()
