"""The scoring tools are pinned in one shipped lock, recorded in every result, and part of the reuse key."""

from __future__ import annotations

import tomllib

from grader.toolchain import RUNNER_TOOLS, SCORING_TOOLS, installed_versions, locked_versions, tools_lock
from tests.conftest import REPO_ROOT


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
