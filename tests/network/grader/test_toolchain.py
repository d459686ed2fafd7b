"""The scoring tools' versions are part of the reuse key: real gradings on the local backend (so the package
index is needed). The pins and the lock are tests/unit/grader/test_toolchain.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from grader.environments import sandbox_target
from grader.resolve import resolve
from grader.toolchain import RUNNER_TOOLS, lock_hash, locked_versions, runner_request, tools_lock
from tests.conftest import REPO_ROOT


def grade(source: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "grader", "grade", str(source), "--challenge", "hello-api",
                           "--sandbox", "local", "--out", str(out), "--format", "json"],
                          capture_output=True, text=True, timeout=1200, check=False)


@pytest.mark.slow
def test_a_result_from_other_tool_versions_or_another_lock_is_not_reused(tmp_path: Path) -> None:
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
    result = json.loads(path.read_text())
    result["tools_lock"] = "sha256:" + "0" * 64  # same tool versions, another lock (their dependencies moved)
    path.write_text(json.dumps(result))
    regraded = grade(source, out)
    assert regraded.returncode == 0 and "result reused" not in regraded.stdout + regraded.stderr
    assert json.loads(path.read_text())["tools_lock"] == lock_hash()


def test_the_runner_environment_is_resolved_to_the_lock_not_to_the_host() -> None:
    """Every package of the runner image (the tools and all they need) at the shipped lock's version."""
    resolution = resolve(runner_request(sandbox_target("3.11", "linux-container")), None, lambda _: None)
    assert resolution.findings == ()
    got = {package.name: package.version for package in resolution.packages}
    locked = tools_lock().versions()
    assert set(RUNNER_TOOLS) <= set(got)
    assert {name: version for name, version in got.items() if locked.get(name) != version} == {}
    assert {package.origin for package in resolution.packages} == {"lock"}
