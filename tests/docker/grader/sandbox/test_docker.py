"""The Docker backend against the real engine: the boundary holds, failures are reported, nothing is left."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from grader.challenge import load_challenge
from grader.engine import Container
from grader.models import GradeResult
from grader.pipeline import grade_submission
from grader.sandbox import docker_pod
from grader.sandbox.docker import DockerSandbox
from grader.sandbox.docker_pod import MANAGED_LABEL
from grader.sandbox.owner import OWNER_PID_LABEL
from tests.conftest import REPO_ROOT, of_this_run

FIXTURES = REPO_ROOT / "tests" / "fixtures"
pytestmark = [pytest.mark.docker, pytest.mark.slow]


def grade(docker_client: Any, submission: str, challenge: str, out: Path) -> GradeResult:
    bundle = load_challenge(challenge)
    sandbox = DockerSandbox(python=bundle.python, client=docker_client)
    before = _managed(docker_client)
    result = grade_submission(FIXTURES / "submissions" / submission, bundle, sandbox, out, log=lambda _: None)
    leftovers = _managed(docker_client) - before
    assert not leftovers, f"containers left behind: {leftovers}"
    return result


def _managed(docker_client: Any) -> set[str]:
    """This test run's grader containers (other gradings may run beside it on the same engine)."""
    return {c.name for c in docker_client.containers.list(all=True, filters=of_this_run(MANAGED_LABEL))}


def test_sandbox_boundary_holds(docker_client: Any, tmp_path: Path) -> None:
    result = grade(docker_client, "probe-app", str(FIXTURES / "probe-challenge"), tmp_path)
    assert result.status == "graded", result.error
    assert result.app is not None and result.app.started
    failed = [t.name for c in result.checks for t in c.tests if t.outcome != "passed"]
    assert failed == [], [f.message for c in result.checks for f in c.findings]
    [hidden] = [c for c in result.checks if c.id.startswith("hidden-tests/")]
    assert hidden.score == hidden.max_score > 0


def test_a_pod_without_services_whose_holder_stops_at_start_is_made_again(
    docker_client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CI saw "cannot join network of a non running container" when the app joined a holder the engine had
    stopped at once (a challenge with no services, so nothing noticed before the app). The first holder is
    stopped here on purpose: the engine refuses the app for real, and the pod must be made again."""
    start_holder = docker_pod._start_holder
    stopped: list[str] = []

    def holder_that_stops_once(launcher: docker_pod.Launcher, runner_image: str, volume: str | None) -> Container:
        holder = start_holder(launcher, runner_image, volume)
        if not stopped:
            stopped.append(holder.name)
            holder.kill()
        return holder

    monkeypatch.setattr(docker_pod, "_start_holder", holder_that_stops_once)
    bundle = load_challenge(str(FIXTURES / "probe-challenge"))
    lines: list[str] = []
    sandbox = DockerSandbox(python=bundle.python, client=docker_client, log=lines.append)
    before = _managed(docker_client)
    result = grade_submission(FIXTURES / "submissions" / "probe-app", bundle, sandbox, tmp_path, log=lines.append)
    assert len(stopped) == 1
    assert result.status == "graded", result.error
    assert result.app is not None and result.app.started
    assert any("its holder stopped (status exited" in line and "starting it again" in line for line in lines), lines
    assert _managed(docker_client) - before == set()


def test_app_that_dies_at_start_fails_every_hidden_test(docker_client: Any, tmp_path: Path) -> None:
    result = grade(docker_client, "crashes-at-start", "hello-api", tmp_path)
    assert result.status == "graded"
    assert result.app is not None and not result.app.started
    assert result.app.problem is not None and "exited with code 3" in result.app.problem
    assert "boom: missing configuration" in result.app.log_tail
    hidden = [c for c in result.checks if c.id.startswith("hidden-tests/")]
    assert sum(c.max_score for c in hidden) >= 10
    assert sum(c.score for c in hidden) == 0
    assert next(c for c in result.categories if c.id == "api_design").score == 0.0
    assert (tmp_path / "crashes-at-start" / "result.json").is_file()


def short_startup_challenge(tmp_path: Path) -> Path:
    bundle = tmp_path / "bundle"
    shutil.copytree(REPO_ROOT / "challenges" / "hello-api", bundle, ignore=shutil.ignore_patterns("solutions"))
    manifest = bundle / "challenge.toml"
    text = manifest.read_text().split("[solutions.", 1)[0]
    manifest.write_text(text.replace("memory_mb = 512", "memory_mb = 256\nstartup_timeout_s = 3"))
    return bundle


def test_app_that_never_answers_times_out_and_is_removed(docker_client: Any, tmp_path: Path) -> None:
    result = grade(docker_client, "never-ready", str(short_startup_challenge(tmp_path)), tmp_path / "out")
    assert result.app is not None and not result.app.started
    assert result.app.problem == "did not start within 3 s: the health path never answered 2xx"
    assert sum(c.score for c in result.checks if c.id.startswith("hidden-tests/")) == 0


def test_ctrl_c_removes_the_running_pod(docker_client: Any, tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "grader", "grade", str(FIXTURES / "submissions" / "never-ready"), "--challenge",
            "hello-api", "--sandbox", "docker", "--out", str(tmp_path / "out")]
    before = _managed(docker_client)
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 600  # ends when the app runs; generous only for a loaded machine
    while time.monotonic() < deadline and not _app_running(docker_client, proc.pid):
        time.sleep(0.2)
    assert _app_running(docker_client, proc.pid), "the app container never started"
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=600)  # the grader exits as soon as the pod is gone
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    assert _managed(docker_client) <= before


def _app_running(docker_client: Any, grader_pid: int) -> bool:
    """Whether the app of the grader process `grader_pid` runs (not another session's on this engine)."""
    labels = [MANAGED_LABEL, "grader.role=app", f"{OWNER_PID_LABEL}={grader_pid}"]
    return bool(docker_client.containers.list(filters={"label": labels}))
