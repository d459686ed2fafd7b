"""The scoring tools are pinned in one shipped lock, recorded in every result, and part of the reuse key."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from grader.toolchain import RUNNER_TOOLS, SCORING_TOOLS, installed_versions, locked_versions, tools_lock

from .conftest import REPO_ROOT


def pyproject_pins() -> dict[str, str]:
    dependencies = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    pins = {}
    for spec in dependencies:
        requirement = spec.split(";")[0].strip()
        if "==" in requirement:
            name, version = requirement.split("==")
            pins[name.split("[")[0]] = version
    return pins


def test_every_runner_tool_is_pinned_exactly_and_locked_at_that_version() -> None:
    pins, locked = pyproject_pins(), tools_lock().versions()
    for name in RUNNER_TOOLS:
        assert name in pins, f"{name} is not pinned exactly in pyproject.toml"
        assert locked.get(name) == pins[name], f"regenerate the lock: python -m grader.toolchain ({name})"
    assert tools_lock().findings == ()


def test_this_environment_runs_the_locked_tools() -> None:
    assert installed_versions() == locked_versions()
    assert set(locked_versions()) == set(SCORING_TOOLS)


def grade(source: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "grader", "grade", str(source), "--challenge", "hello-api",
                           "--sandbox", "local", "--out", str(out), "--format", "json"],
                          capture_output=True, text=True, timeout=1200, check=False)


@pytest.mark.slow
def test_a_result_from_other_tool_versions_is_not_reused(tmp_path: Path) -> None:
    source = REPO_ROOT / "challenges" / "hello-api" / "starter"
    out = tmp_path / "out"
    assert grade(source, out).returncode == 0
    path = out / "starter" / "result.json"
    again = grade(source, out)
    assert "result reused" in again.stdout + again.stderr
    result = json.loads(path.read_text())
    result["tools"]["ruff"] = "0.0.1"  # as if graded by an install with another ruff
    path.write_text(json.dumps(result))
    regraded = grade(source, out)
    assert regraded.returncode == 0 and "result reused" not in regraded.stdout + regraded.stderr
    assert json.loads(path.read_text())["tools"]["ruff"] == locked_versions()["ruff"]
