"""Grading on many machines, for real: a private `redis-server` with a password, two `grader worker`
processes (each with its own cache, on the local backend) and `grader grade --broker` as the coordinator.

- a cohort of 6 through the workers: every result equals a local grading of the same submission (scores,
  per-check verdicts, hidden test verdicts), both workers took work, a second run sends nothing again;
- SIGKILL of a worker while it grades: its task is redelivered to the other and every result arrives once;
- a task whose artifact was changed in the store after it was sent is refused, and nothing is graded;
- Ctrl-C on the coordinator stops the running grading on the worker and leaves none of its processes;
- an engine failure is retried, then recorded as an error result; a restarted coordinator collects, not resends.

Needs the package index (the submissions' wheels) and Debian's redis-server. The same with a worker on the
Docker backend (results equal a local Docker grading; Ctrl-C leaves no container): tests/docker/test_distributed.py.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from grader.distributed.artifacts import KEY_PREFIX, RedisArtifactStore, pack_directory
from grader.distributed.protocol import TASK_NAME, GradingTask
from grader.distributed.worker import make_app
from tests.distributed import (
    CHALLENGE,
    COHORT,
    EVENT_DEADLINE_S,
    GRADE_DEADLINE_S,
    SOLUTIONS,
    VISIBILITY_TIMEOUT_S,
    Worker,
    broker,
    grade,
    kill_tree,
    make_cohort,
    read_results,
    start_worker,
    stop_worker,
    verdicts,
    wait_for,
)

pytestmark = pytest.mark.slow
__all__ = ["broker"]  # the module-scoped fixture, shared with the Docker half


@pytest.fixture(scope="module")
def workers(broker: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Worker]]:
    home = tmp_path_factory.mktemp("workers")
    started = [start_worker(broker, "one", home / "one"), start_worker(broker, "two", home / "two")]
    try:
        yield started
    finally:
        for worker in started:
            stop_worker(worker)


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_cohort(tmp_path_factory.mktemp("cohort"))


@pytest.fixture(scope="module")
def local_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """The distinct solutions of the cohort, graded here without a broker."""
    out = tmp_path_factory.mktemp("local")
    distinct = sorted(set(COHORT.values()))
    proc = grade([str(SOLUTIONS / name) for name in distinct], out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return read_results(out, distinct)


def test_a_cohort_graded_by_two_workers_equals_a_local_grading(
    broker: str, workers: list[Worker], cohort: Path, local_results: dict[str, dict[str, Any]], tmp_path: Path,
) -> None:
    out = tmp_path / "out"
    proc = grade([str(cohort)], out, broker)
    assert proc.returncode == 0, proc.stderr[-3000:]
    remote = read_results(out, list(COHORT))
    for name, solution in COHORT.items():
        assert verdicts(remote[name]) == verdicts(local_results[solution]), name
        assert remote[name]["submission"]["source"] == str(cohort / name)  # this machine's path, not the worker's
    assert all("succeeded" in worker.text() for worker in workers), "both workers must have graded something"
    assert "graded on one@test" in proc.stderr and "graded on two@test" in proc.stderr, proc.stderr[-3000:]
    assert " on one@test" in proc.stderr.replace("graded on one@test", "")  # progress: stage and worker
    # Run again: every result is already in --out with the same key, so nothing is sent.
    before = sum(worker.text().count("received") for worker in workers)
    again = grade([str(cohort)], out, broker)
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stderr.count("reused") >= len(COHORT), again.stderr[-3000:]
    assert sum(worker.text().count("received") for worker in workers) == before


def test_a_killed_worker_s_task_is_graded_by_another_exactly_once(
    broker: str, workers: list[Worker], tmp_path: Path, tmp_path_factory: pytest.TempPathFactory,
) -> None:
    cohort = tmp_path / "cohort"
    for name in ("gus", "hal"):  # new content, so no worker has a finished result to reuse
        shutil.copytree(SOLUTIONS / "fastapi-ref", cohort / name, copy_function=shutil.copy2)
        (cohort / name / "NOTES.md").write_text(f"{name}'s notes\n")
    spare = start_worker(broker, "spare", tmp_path_factory.mktemp("spare"))
    out = tmp_path / "out"
    everyone = [*workers, spare]
    marks = {worker.name: len(worker.text()) for worker in everyone}
    coordinator = subprocess.Popen(
        [sys.executable, "-m", "grader", "-v", "grade", str(cohort), "--challenge", "hello-api", "--out", str(out),
         "--format", "json", "--broker", broker], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        def grading(worker: Worker) -> bool:
            return "taking a snapshot" in worker.text()[marks[worker.name]:]

        wait_for(lambda: any(grading(worker) for worker in everyone), "a worker to start grading")
        victim = next(worker for worker in everyone if grading(worker))
        kill_tree(victim.process.pid)  # SIGKILL: the host died, nothing is acknowledged or cleaned up
        victim.process.wait()
        _, stderr = coordinator.communicate(timeout=GRADE_DEADLINE_S)
    finally:
        if coordinator.poll() is None:
            coordinator.kill()
        stop_worker(spare)
    assert coordinator.returncode == 0, stderr[-3000:]
    results = read_results(out, ["gus", "hal"])
    assert all(result["status"] == "graded" for result in results.values())
    assert sorted(path.parent.name for path in out.glob("*/result.json")) == ["gus", "hal"]
    assert stderr.count("graded on") == 2, stderr[-3000:]  # each result collected once
    survivors = [worker for worker in everyone if worker is not victim]
    assert sum(worker.text()[marks[worker.name]:].count("succeeded") for worker in survivors) >= 2


def test_a_tampered_artifact_is_refused(broker: str, workers: list[Worker], tmp_path: Path) -> None:
    import redis

    client = redis.Redis.from_url(broker)
    store = RedisArtifactStore(client)
    submission = SOLUTIONS / "fastapi-ref"
    challenge_hash = store.put(pack_directory(Path(CHALLENGE.root)), "challenge")
    digest = store.put(pack_directory(submission), "submission")
    client.set(KEY_PREFIX + digest, pack_directory(SOLUTIONS / "fastapi-flawed"))  # swapped after sending
    task = GradingTask(name="mallory", filename="mallory", source_kind="directory", submission=digest,
                       challenge=challenge_hash, challenge_id=CHALLENGE.id)
    app = make_app(broker, "grader", VISIBILITY_TIMEOUT_S)
    sent = app.send_task(TASK_NAME, args=[task.to_json()], task_id=f"{task.key()}-tampered")
    wait_for(lambda: sent.state in ("FAILURE", "SUCCESS"), "the worker's verdict on the tampered task")
    assert sent.state == "FAILURE"
    assert "does not match its hash" in str(sent.info)
    assert all("mallory: taking a snapshot" not in worker.text() for worker in workers)


def test_ctrl_c_stops_the_running_grading_on_the_worker(broker: str, workers: list[Worker], tmp_path: Path) -> None:
    cohort = tmp_path / "cohort"
    shutil.copytree(SOLUTIONS / "flask-ref", cohort / "ivy", copy_function=shutil.copy2)
    (cohort / "ivy" / "NOTES.md").write_text("ivy's notes\n")
    marks = {worker.name: len(worker.text()) for worker in workers}
    coordinator = subprocess.Popen(
        [sys.executable, "-m", "grader", "-v", "grade", str(cohort), "--challenge", "hello-api",
         "--out", str(tmp_path / "out"), "--format", "json", "--broker", broker],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def holder() -> Worker | None:  # the app answering its health path: the grading is in its last stage
        return next((w for w in workers if "/health" in w.text()[marks[w.name]:]), None)

    wait_for(lambda: holder() is not None, "a worker to start ivy's app")
    coordinator.send_signal(signal.SIGINT)
    _, stderr = coordinator.communicate(timeout=EVENT_DEADLINE_S)
    assert coordinator.returncode == 130, stderr[-3000:]
    worker = holder()
    assert worker is not None
    wait_for(lambda: "ivy: cancelled by the coordinator" in worker.text(), "the worker to stop the grading")
    pool = psutil.Process(worker.process.pid).children(recursive=True)
    wait_for(lambda: all(not p.children(recursive=True) for p in pool if p.is_running()),
             "the grading's processes to end")
    assert not (tmp_path / "out" / "ivy" / "result.json").exists()


def test_grader_workers_lists_the_live_workers(broker: str, workers: list[Worker]) -> None:
    proc = subprocess.run([sys.executable, "-m", "grader", "workers", "--broker", broker, "--timeout", "10"],
                          capture_output=True, text=True, timeout=EVENT_DEADLINE_S, check=False)
    assert proc.returncode == 0, proc.stderr
    alive = [worker for worker in workers if worker.process.poll() is None]
    assert alive
    for worker in alive:
        assert f"{worker.name}@test: 1 slot(s)" in proc.stdout, proc.stdout
    assert "local backend (not an isolation boundary)" in proc.stdout, proc.stdout


def test_an_engine_failure_is_retried_then_recorded_as_an_error_result(
    broker: str, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory,
) -> None:
    # A worker of its own queue whose Docker engine is gone: making its backend fails on every attempt.
    broken = start_worker(broker, "broken", tmp_path_factory.mktemp("broken"), sandbox="docker",
                          extra=("--queue", "broken", "--retries", "1"),
                          env={"DOCKER_HOST": f"unix://{tmp_path / 'no-engine.sock'}"})
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "grader", "-v", "grade", str(SOLUTIONS / "fastapi-ref"), "--challenge",
             "hello-api", "--out", str(tmp_path / "out"), "--format", "json", "--broker", broker, "--queue", "broken"],
            capture_output=True, text=True, timeout=GRADE_DEADLINE_S, check=False)
    finally:
        stop_worker(broken)
    assert proc.returncode == 1, proc.stderr[-3000:]
    result = json.loads((tmp_path / "out" / "fastapi-ref" / "result.json").read_text())
    assert result["status"] == "error"
    assert result["error"].startswith("worker broken@test could not grade it after 2 attempts: "), result["error"]
    assert broken.text().count("retrying") == 1, broken.text()[-3000:]


def test_a_restarted_coordinator_collects_what_finished_without_it(
    broker: str, workers: list[Worker], tmp_path: Path,
) -> None:
    cohort = tmp_path / "cohort"
    shutil.copytree(SOLUTIONS / "flask-ref", cohort / "kim", copy_function=shutil.copy2)
    (cohort / "kim" / "NOTES.md").write_text("kim's notes\n")  # new content: nothing to reuse
    alive = [worker for worker in workers if worker.process.poll() is None]
    marks = {worker.name: len(worker.text()) for worker in alive}

    def new_text() -> str:
        return "".join(worker.text()[marks[worker.name]:] for worker in alive)

    argv = [sys.executable, "-m", "grader", "-v", "grade", str(cohort), "--challenge", "hello-api",
            "--out", str(tmp_path / "out"), "--format", "json", "--broker", broker]
    first = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: "/kim: taking a snapshot" in new_text(),
             "a worker to start grading kim")
    first.kill()  # the coordinator dies; the worker carries on
    first.wait()
    wait_for(lambda: "succeeded" in new_text(), "the worker to finish kim")
    received = new_text().count("received")
    again = subprocess.run(argv, capture_output=True, text=True, timeout=GRADE_DEADLINE_S, check=False)
    assert again.returncode == 0, again.stderr[-3000:]
    assert json.loads((tmp_path / "out" / "kim" / "result.json").read_text())["status"] == "graded"
    assert new_text().count("received") == received  # collected from the broker, not sent again
