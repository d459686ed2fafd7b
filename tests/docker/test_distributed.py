"""Grading through a worker on the Docker backend: a private redis-server, one `grader worker --sandbox
docker` and `grader grade --broker`. The results equal a local Docker grading of the same submissions, and
Ctrl-C on the coordinator leaves no container of the grading behind. The local-backend half (two workers,
SIGKILL, a tampered artifact): tests/network/test_distributed.py.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import of_this_run
from tests.network.test_distributed import (
    EVENT_DEADLINE_S,
    SOLUTIONS,
    Worker,
    broker,
    grade,
    read_results,
    start_worker,
    stop_worker,
    verdicts,
    wait_for,
)

pytestmark = pytest.mark.slow
SLOW_START_S = 50  # under hello-api's 60 s start-up limit: were the cancel ignored, the grading would finish
__all__ = ["broker"]  # the module-scoped fixture, shared with the network half


@pytest.fixture(scope="module")
def docker_worker(broker: str, docker_client: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    worker = start_worker(broker, "docker", tmp_path_factory.mktemp("docker-worker"), sandbox="docker")
    try:
        yield worker
    finally:
        stop_worker(worker)


def test_a_docker_worker_grades_as_a_local_docker_grading(broker: str, docker_worker: Worker, tmp_path: Path) -> None:
    names = ["fastapi-ref", "fastapi-flawed"]
    sources = [str(SOLUTIONS / name) for name in names]
    local = grade(sources, tmp_path / "local", sandbox="docker")
    assert local.returncode == 0, local.stderr[-3000:]
    remote = grade(sources, tmp_path / "remote", broker)
    assert remote.returncode == 0, remote.stderr[-3000:]
    local_results, remote_results = read_results(tmp_path / "local", names), read_results(tmp_path / "remote", names)
    for name in names:
        assert verdicts(remote_results[name]) == verdicts(local_results[name]), name
        assert remote_results[name]["sandbox"]["backend"] == "docker"


def test_ctrl_c_on_the_coordinator_leaves_no_container(
    broker: str, docker_worker: Worker, docker_client: Any, tmp_path: Path,
) -> None:
    cohort = tmp_path / "cohort"
    shutil.copytree(SOLUTIONS / "fastapi-ref", cohort / "jo", copy_function=shutil.copy2)
    main = cohort / "jo" / "main.py"  # an app slow to start: its containers are up long before it answers
    main.write_text(f"import time\n\ntime.sleep({SLOW_START_S})\n" + main.read_text())
    coordinator = subprocess.Popen(
        [sys.executable, "-m", "grader", "-v", "grade", str(cohort), "--challenge", "hello-api",
         "--out", str(tmp_path / "out"), "--format", "json", "--broker", broker],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: bool(docker_client.containers.list(filters=of_this_run())), "the grading's containers")
        coordinator.send_signal(signal.SIGINT)
        _, stderr = coordinator.communicate(timeout=EVENT_DEADLINE_S)
    finally:
        if coordinator.poll() is None:
            coordinator.kill()
    assert coordinator.returncode == 130, stderr[-3000:]
    wait_for(lambda: "jo: cancelled by the coordinator" in docker_worker.text(), "the worker to stop the grading")
    wait_for(lambda: not docker_client.containers.list(all=True, filters=of_this_run()), "no container left")
    assert not (tmp_path / "out" / "jo" / "result.json").exists()
