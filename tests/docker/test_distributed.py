"""Grading on many machines on the Docker backend, for real: a private `redis-server` with a password, two
`grader worker --sandbox docker` processes (a cache each) on this one engine, `grader grade --broker`.

- a cohort of 6: every result equals a local Docker grading of the same submission, both workers took work;
- Ctrl-C on the coordinator while both workers grade leaves no container of either behind, and the workers
  grade the next cohort normally;
- SIGKILL of a worker while its containers run: its task is graded by the other, every result arrives once,
  and what the killed worker left in the engine is removed by the surviving worker (no `grader sandbox
  cleanup` by hand), so nothing of this test run remains.

The local-backend half (a tampered artifact, retries, a restarted coordinator, `grader workers`):
tests/network/test_distributed.py. Engine resources are told apart from other sessions' by this run's label
(`of_this_run`).
"""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from grader.engine import Engine
from grader.sandbox.cleanup import remove_orphans
from grader.sandbox.owner import OWNER_PID_LABEL
from tests.conftest import of_this_run
from tests.distributed import (
    COHORT,
    EVENT_DEADLINE_S,
    GRADE_DEADLINE_S,
    SOLUTIONS,
    Worker,
    broker,
    coordinator_argv,
    grade,
    kill_tree,
    make_cohort,
    new_copies,
    read_results,
    start_worker,
    stop_worker,
    verdicts,
    wait_for,
)

pytestmark = pytest.mark.slow
__all__ = ["broker"]  # the module-scoped fixture
SLOW_START_S = 40  # under hello-api's 60 s start-up limit: the app's containers stay up long before it answers
# Longer than a Docker grading takes on a loaded machine (so no task is delivered twice while it runs), short
# enough that the killed worker's task comes back within the test.
VISIBILITY_TIMEOUT_S = 150


@pytest.fixture(scope="module")
def docker_workers(broker: str, docker_client: Any, tmp_path_factory: pytest.TempPathFactory
                   ) -> Iterator[list[Worker]]:
    home = tmp_path_factory.mktemp("docker-workers")
    started: list[Worker] = []
    try:
        for name in ("one", "two"):
            started.append(start_worker(broker, name, home / name, sandbox="docker",
                                        visibility_timeout_s=VISIBILITY_TIMEOUT_S))
        yield started
    finally:
        for worker in started:
            stop_worker(worker)
        remove_orphans(Engine(docker_client))  # what a failed test's gradings left, killed with their workers


def run_containers(docker_client: Any) -> list[dict[str, Any]]:
    """This run's containers as the engine lists them (one call: no inspection of each, which fails for a
    container removed meanwhile)."""
    return list(docker_client.api.containers(all=True, filters=of_this_run()))


def containers_of(docker_client: Any, worker: Worker) -> list[str]:
    """The names of this run's containers that a process of `worker` made."""
    pids = {str(pid) for pid in worker.pids()}
    return [c["Names"][0].lstrip("/") for c in run_containers(docker_client)
            if (c.get("Labels") or {}).get(OWNER_PID_LABEL) in pids]


def leftovers(docker_client: Any) -> list[str]:
    """This run's containers and volumes still in the engine."""
    volumes = docker_client.api.volumes(filters=of_this_run()).get("Volumes") or []
    return ([f"container {c['Names'][0].lstrip('/')}" for c in run_containers(docker_client)]
            + [f"volume {v['Name']}" for v in volumes])


def slow_starting_copies(folder: Path, names: list[str]) -> Path:
    """fastapi-ref copies whose app sleeps before it answers: their containers are up long enough to act."""
    new_copies(folder, "fastapi-ref", names)
    for name in names:
        main = folder / name / "main.py"
        main.write_text(f"import time\n\ntime.sleep({SLOW_START_S})\n" + main.read_text())
    return folder


def test_a_cohort_graded_by_two_docker_workers_equals_a_local_docker_grading(
    broker: str, docker_workers: list[Worker], tmp_path: Path,
) -> None:
    distinct = sorted(set(COHORT.values()))
    local = grade([str(SOLUTIONS / name) for name in distinct], tmp_path / "local", sandbox="docker")
    assert local.returncode == 0, local.stderr[-3000:]
    cohort = make_cohort(tmp_path / "cohort")
    remote = grade([str(cohort)], tmp_path / "remote", broker)
    assert remote.returncode == 0, remote.stderr[-3000:]
    local_results = read_results(tmp_path / "local", distinct)
    remote_results = read_results(tmp_path / "remote", list(COHORT))
    for name, solution in COHORT.items():
        assert verdicts(remote_results[name]) == verdicts(local_results[solution]), name
        assert remote_results[name]["sandbox"]["backend"] == "docker"
    assert all("succeeded" in worker.text() for worker in docker_workers), "both workers must have graded"
    assert "graded on one@test" in remote.stderr and "graded on two@test" in remote.stderr, remote.stderr[-3000:]


def test_ctrl_c_on_the_coordinator_leaves_no_container_on_either_worker(
    broker: str, docker_workers: list[Worker], docker_client: Any, tmp_path: Path,
) -> None:
    cohort = slow_starting_copies(tmp_path / "cohort", ["jo", "kai"])
    coordinator = subprocess.Popen(coordinator_argv([str(cohort)], tmp_path / "out", broker),
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:  # one task per slot and no prefetching: each worker takes one of the two
        wait_for(lambda: all(containers_of(docker_client, worker) for worker in docker_workers),
                 "both workers' gradings to have containers")
        coordinator.send_signal(signal.SIGINT)
        _, stderr = coordinator.communicate(timeout=EVENT_DEADLINE_S)
    finally:
        if coordinator.poll() is None:
            coordinator.kill()
    assert coordinator.returncode == 130, stderr[-3000:]
    for worker in docker_workers:
        wait_for(lambda w=worker: "cancelled by the coordinator" in w.text(), f"worker {worker.name} to stop")
    wait_for(lambda: not leftovers(docker_client), "no container or volume of this run left")
    assert not list((tmp_path / "out").glob("*/result.json"))
    # The workers grade again afterwards (their aborted sandboxes are not reused: they would refuse every run).
    after = grade([str(new_copies(tmp_path / "after", "flask-ref", ["lu", "max"]))], tmp_path / "after-out", broker)
    assert after.returncode == 0, after.stderr[-3000:]
    assert all(r["status"] == "graded" for r in read_results(tmp_path / "after-out", ["lu", "max"]).values())


def test_a_killed_docker_worker_s_task_is_graded_once_and_its_containers_are_removed(
    broker: str, docker_workers: list[Worker], docker_client: Any, tmp_path: Path,
) -> None:
    cohort = new_copies(tmp_path / "cohort", "flask-ref", ["gus", "hal"])
    out = tmp_path / "out"
    coordinator = subprocess.Popen(coordinator_argv([str(cohort)], out, broker),
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        def grading() -> Worker | None:
            return next((w for w in docker_workers if containers_of(docker_client, w)), None)

        wait_for(lambda: grading() is not None, "a worker's grading to have containers")
        victim = grading()
        assert victim is not None
        orphans = containers_of(docker_client, victim)
        kill_tree(victim.process.pid)  # SIGKILL: the host's worker died, nothing acknowledged or removed
        victim.process.wait()
        _, stderr = coordinator.communicate(timeout=GRADE_DEADLINE_S + VISIBILITY_TIMEOUT_S)
    finally:
        if coordinator.poll() is None:
            coordinator.kill()
    assert coordinator.returncode == 0, stderr[-3000:]
    results = read_results(out, ["gus", "hal"])
    assert all(result["status"] == "graded" for result in results.values())
    assert sorted(path.parent.name for path in out.glob("*/result.json")) == ["gus", "hal"]
    assert stderr.count("graded on") == 2, stderr[-3000:]  # each result collected once
    survivor = next(worker for worker in docker_workers if worker is not victim)
    assert "graded on " + survivor.name in stderr
    # What the killed worker left: gone without anyone cleaning up by hand, and it did not stop the redelivery.
    assert orphans, "the killed worker's grading had containers"
    assert "left behind by graders that are gone" in survivor.text(), survivor.text()[-3000:]
    assert not leftovers(docker_client), leftovers(docker_client)
