"""Services beside the app (PostgreSQL, Redis), started fresh per grading from offline-built images."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import threading
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
from grader.sandbox.docker_pod import SESSION_LABEL
from grader.sandbox.owner import OWNER_PID_LABEL
from tests.conftest import REPO_ROOT, of_this_run

CHALLENGE = load_challenge(str(REPO_ROOT / "tests" / "fixtures" / "services-challenge"))
SUBMISSION = REPO_ROOT / "tests" / "fixtures" / "submissions" / "notes-redis"
pytestmark = [pytest.mark.slow, pytest.mark.docker]


def hidden_tests(result: GradeResult) -> dict[str, Any]:
    assert result.status == "graded", result.error
    return {test.name: test for check in result.checks if check.id.startswith("hidden-tests/") for test in check.tests}


def grader_resources(client: Any) -> set[str]:
    """This test run's containers, volumes and networks (other gradings may run beside it on the engine)."""
    containers = {c.name for c in client.containers.list(all=True, filters=of_this_run())}
    volumes = {v.name for v in client.volumes.list(filters=of_this_run())}
    networks = {n.name for n in client.networks.list(filters=of_this_run())}
    return containers | volumes | networks


def test_two_parallel_gradings_each_get_their_own_postgres_and_redis(docker_client: Any, tmp_path: Path) -> None:
    before = grader_resources(docker_client)
    sandbox = DockerSandbox(python=CHALLENGE.python, client=docker_client)
    results: dict[str, GradeResult] = {}

    def grade(name: str) -> None:
        copy = tmp_path / name
        copy.mkdir()
        shutil.copytree(SUBMISSION, copy, dirs_exist_ok=True)
        results[name] = grade_submission(copy, CHALLENGE, sandbox, tmp_path / "out", log=lambda _: None, force=True)

    threads = [threading.Thread(target=grade, args=(name,)) for name in ("first", "second")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    for result in results.values():
        tests = hidden_tests(result)
        failed = {name: test.message for name, test in tests.items() if test.outcome != "passed"}
        # Each suite sees an empty database and only its own notes: a shared one would break the first test.
        assert failed.keys() == {"test_fails_on_purpose"}, failed
        own = next(check for check in result.checks if check.id.startswith("candidate_tests"))
        # Its own tests reached PostgreSQL and Redis of their own (they fail without them).
        assert own.metrics["tests_found"] == 2 and own.metrics["pass_rate"] == 100.0, own.metrics
        assert result.sandbox is not None
        assert result.sandbox.services == {"postgres": "grader-service-postgres:15", "redis": "grader-service-redis:7"}
    assert grader_resources(docker_client) - before == set(), "a service container, volume or network was left"


def test_sigterm_removes_the_running_pod_with_its_services(docker_client: Any, tmp_path: Path) -> None:
    """A cancelled CI job sends SIGTERM: it must not leave PostgreSQL and Redis containers behind."""
    argv = [sys.executable, "-m", "grader", "grade", str(SUBMISSION), "--challenge", CHALLENGE.root, "--sandbox",
            "docker", "--out", str(tmp_path), "--force", "--format", "json"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # Its own service container, by the pid it carries: other gradings may run services on this engine too.
    redis_of_this_grader = {"label": ["grader.role=service-redis", f"{OWNER_PID_LABEL}={proc.pid}"]}
    session = None
    deadline = time.monotonic() + 900  # ends when its service runs; generous for a first build on a loaded machine
    while session is None and time.monotonic() < deadline and proc.poll() is None:
        running = docker_client.containers.list(filters=redis_of_this_grader)
        session = running[0].labels[SESSION_LABEL] if running else None
        time.sleep(0.2)
    assert session is not None, "no service container came up"
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=600)  # the grader exits as soon as its pod and services are gone
    assert proc.returncode == 130, stderr[-3000:]
    assert "interrupted" in stderr and "Traceback" not in stderr
    left = docker_client.containers.list(all=True, filters={"label": f"{SESSION_LABEL}={session}"})
    assert left == [], [c.name for c in left]


def test_a_pod_whose_holder_stops_at_start_is_made_again(
    docker_client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under load the engine was seen to stop a fresh holder at once; services then cannot join its
    namespace. Here the first holder is stopped on purpose: the grading must still come through."""
    start_holder = docker_pod._start_holder
    stopped: list[str] = []

    def flaky_holder(launcher: docker_pod.Launcher, runner_image: str, volume: str | None) -> Container:
        holder = start_holder(launcher, runner_image, volume)
        if not stopped:
            stopped.append(holder.name)
            holder.kill()
        return holder

    monkeypatch.setattr(docker_pod, "_start_holder", flaky_holder)
    sandbox = DockerSandbox(python=CHALLENGE.python, client=docker_client)
    result = grade_submission(SUBMISSION, CHALLENGE, sandbox, tmp_path, log=lambda _: None, force=True)
    assert len(stopped) == 1
    failed = {name for name, test in hidden_tests(result).items() if test.outcome != "passed"}
    assert failed == {"test_fails_on_purpose"}


def test_django_tests_get_a_test_database_on_the_gradings_postgres(docker_client: Any, tmp_path: Path) -> None:
    """`manage.py test` creates `test_app` beside the app's database: the app's role needs CREATEDB (the
    servers are fresh and throwaway, so the right costs nothing). Without it no test runs at all."""
    before = grader_resources(docker_client)
    submission = REPO_ROOT / "tests" / "fixtures" / "submissions" / "django-tests-postgres"
    sandbox = DockerSandbox(python=CHALLENGE.python, client=docker_client)
    result = grade_submission(submission, CHALLENGE, sandbox, tmp_path, log=lambda _: None, force=True)
    assert result.status == "graded", result.error
    own = next(check for check in result.checks if check.id.startswith("candidate_tests"))
    crashed = [finding.message for finding in own.findings if finding.rule == "tests-crashed"]
    assert not crashed, crashed
    assert (own.metrics["tests_found"], own.metrics["pass_rate"]) == (2, 100.0), own.metrics
    assert own.metrics["coverage_percent"] > 50
    assert grader_resources(docker_client) - before == set(), "a service container, volume or network was left"
