"""CI use without a grading: the threshold and the step summary as functions, and the docs/ci examples'
schema and `grader` commands. Real gradings with `--fail-under`, the Markdown and JUnit outputs, and the
examples' steps run for real are tests/network/grader/test_ci.py.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from grader.challenge import load_challenge
from grader.ci import append_step_summary, below_threshold
from grader.cli import main
from grader.models import GradeResult
from tests.conftest import REPO_ROOT

FIXTURES = REPO_ROOT / "tests" / "fixtures" / "submissions"
CI_DOCS = REPO_ROOT / "docs" / "ci"
GITHUB = CI_DOCS / "github-actions.yml"
GITLAB = CI_DOCS / "gitlab-ci.yml"


def grader(*args: str, summary: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "GITHUB_STEP_SUMMARY"}
    if summary is not None:
        env["GITHUB_STEP_SUMMARY"] = str(summary)
    return subprocess.run([sys.executable, "-m", "grader", *args], capture_output=True, text=True, env=env,
                          timeout=600, check=False)


# --- --fail-under and the step summary, as functions -----------------------------------------------------------


def _result(status: str, overall: float | None) -> GradeResult:
    return GradeResult(grader_version="0", graded_at="now", status=status, challenge={"title": "T"},
                       submission=None, sandbox=None, overall=overall, error=None if status == "graded" else "x")


def test_below_threshold_and_step_summary_functions(tmp_path: Path) -> None:
    results = [_result("graded", 80), _result("graded", 49.9), _result("graded", None), _result("error", None)]
    assert [r.overall for r in below_threshold(results, 50)] == [49.9, None]
    assert append_step_summary(results, {}) is None
    target = tmp_path / "summary.md"
    assert append_step_summary(results[:1], {"GITHUB_STEP_SUMMARY": str(target)}) == target
    assert append_step_summary(results, {"GITHUB_STEP_SUMMARY": str(target)}) == target
    text = target.read_text()
    assert text.count("### ") == 2 and "Grading summary: 4 submissions" in text


# --- docs/ci examples ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "schema"), [(GITHUB, "vendor.github-workflows"), (GITLAB, "vendor.gitlab-ci")])
def test_ci_examples_match_their_platform_schema(path: Path, schema: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, str(path)],
                          capture_output=True, text=True, check=False, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def github_job() -> tuple[dict[str, str], list[str]]:
    workflow = yaml.safe_load(GITHUB.read_text())
    (job,) = workflow["jobs"].values()
    return dict(job["env"]), [step["run"] for step in job["steps"] if "run" in step]


def gitlab_job() -> tuple[dict[str, str], list[str]]:
    config = yaml.safe_load(GITLAB.read_text())
    job = config["grade"]
    return dict(job["variables"]), [*job["before_script"], *job["script"], *job["after_script"]]


def grader_commands(env: dict[str, str], scripts: list[str]) -> list[list[str]]:
    """Every `grader ...` command the scripts run, with the job's variables filled in."""
    values = {**env, "RUNNER_TEMP": "/tmp/runner", "CI_PROJECT_DIR": "/builds/p"}
    commands = []
    for script in scripts:
        for line in re.split(r"\n|&&", script):
            expanded = re.sub(r"\$\{?(\w+)\}?", lambda m: values.get(m.group(1), m.group(0)), line)
            words = shlex.split(expanded, comments=True)
            if words and words[0] == "grader":
                commands.append(words[1:])
    return commands


def parse_cli(args: list[str]) -> click.Context:
    """Parse `args` exactly as `grader` would, without running the command (raises on a usage error)."""
    ctx = click.Context(main, info_name="grader")
    command: click.Command = main
    while isinstance(command, click.Group):
        name, *args = args
        found = command.get_command(ctx, name)
        assert found is not None, f"grader has no command {name!r}"
        command = found
        if isinstance(command, click.Group):
            ctx = click.Context(command, info_name=name, parent=ctx)
        else:
            return command.make_context(name, args, parent=ctx)
    raise AssertionError("unreachable")


def project_version() -> str:
    """The version in pyproject.toml (`grader.__version__` may read a checkout's placeholder)."""
    return str(tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["version"])


INSTALL_LINE = 'python -m pip install "takehome-grader @ git+${GRADER_REPOSITORY}@v${GRADER_VERSION}"'


@pytest.mark.parametrize("job", [github_job, gitlab_job], ids=["github", "gitlab"])
def test_ci_examples_run_real_grader_commands(job: Any) -> None:
    env, scripts = job()
    assert env["GRADER_VERSION"] == project_version(), "docs/ci pins the grader version: update it with the release"
    assert "YOUR-ORG" in env["GRADER_REPOSITORY"]  # the one placeholder a team replaces
    assert sum(INSTALL_LINE in script for script in scripts) == 1
    commands = grader_commands(env, scripts)
    assert [c[:2] for c in commands] == [["sandbox", "doctor"], ["grade", "."], ["cache", "prune"]], commands
    grade = parse_cli(commands[1])
    assert grade.params["submissions"] == (Path("."),)
    assert grade.params["formats"] == ("json", "html", "md", "junit")
    assert grade.params["fail_under"] == float(env["FAIL_UNDER"])
    assert grade.params["sandbox_kind"] == env["SANDBOX"] == "docker"
    assert load_challenge(grade.params["challenge_ref"]).id == env["CHALLENGE"]
    for other in (commands[0], commands[2]):
        parse_cli(other)


def test_parse_cli_rejects_an_unknown_option() -> None:
    with pytest.raises(click.UsageError):
        parse_cli(["grade", ".", "--challenge", "hello-api", "--no-such-option"])
