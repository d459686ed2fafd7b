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

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest

from grader.challenge import load_challenge
from grader.distributed.artifacts import KEY_PREFIX, RedisArtifactStore, pack_directory
from grader.distributed.protocol import TASK_NAME, GradingTask
from grader.distributed.worker import make_app
from tests.conftest import free_port, skip_or_fail, wait_for_port

pytestmark = pytest.mark.slow
CHALLENGE = load_challenge("hello-api")
SOLUTIONS = Path(CHALLENGE.root) / "solutions"
# cohort name -> the bundled solution it is a copy of
COHORT = {"ada": "fastapi-ref", "bob": "fastapi-flawed", "cy": "flask-ref", "dee": "django-ref",
          "eve": "fastapi-ref", "fay": "flask-ref"}
PASSWORD = "broker-test-password"
VISIBILITY_TIMEOUT_S = 45  # short, so a dead worker's task comes back within the test
# Deadlines only turn a hang into a failure: a grading takes well under a minute on an idle machine.
GRADE_DEADLINE_S = 1800
EVENT_DEADLINE_S = 600


@dataclass
class Worker:
    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def text(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private redis-server on a free loopback port, with a password; yields the broker URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        skip_or_fail("needs Debian's redis-server package (scripts/test.sh installs it)")
    assert binary is not None
    port = free_port()
    directory = tmp_path_factory.mktemp("broker")
    server = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--requirepass", PASSWORD,
                               "--save", "", "--dir", str(directory)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, server, "redis-server")
        yield f"redis://:{PASSWORD}@127.0.0.1:{port}/0"
    finally:
        server.kill()
        server.wait()


def start_worker(broker: str, name: str, home: Path, sandbox: str = "local", extra: tuple[str, ...] = (),
                 env: dict[str, str] | None = None) -> Worker:
    """`grader worker` in its own session with its own cache, logging to a file."""
    home.mkdir(parents=True, exist_ok=True)
    log = home / "worker.log"
    env = {**os.environ, "GRADER_CACHE_DIR": str(home / "cache"), **(env or {})}
    argv = [sys.executable, "-m", "grader", "worker", "--broker", broker, "--sandbox", sandbox,
            "--name", f"{name}@test", "--visibility-timeout", str(VISIBILITY_TIMEOUT_S), *extra]
    with log.open("wb") as handle:
        process = subprocess.Popen(argv, stdout=handle, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    worker = Worker(name, process, log)
    wait_for(lambda: "ready." in worker.text() or process.poll() is not None, "the worker to start")
    assert process.poll() is None, worker.text()[-3000:]
    return worker


def stop_worker(worker: Worker) -> None:
    """Kill the worker and everything it started (its pool and any app the local backend ran)."""
    kill_tree(worker.process.pid)
    worker.process.wait()


def kill_tree(pid: int) -> None:
    try:
        parent = psutil.Process(pid)
        processes = [parent, *parent.children(recursive=True)]
    except psutil.NoSuchProcess:
        return
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()


def wait_for(condition: Any, what: str, deadline_s: float = EVENT_DEADLINE_S) -> None:
    deadline = time.monotonic() + deadline_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.5)


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
    folder = tmp_path_factory.mktemp("cohort")
    for name, solution in COHORT.items():
        shutil.copytree(SOLUTIONS / solution, folder / name, copy_function=shutil.copy2)
    return folder


def grade(arguments: list[str], out: Path, broker: str | None = None,
          sandbox: str = "local") -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "grader", "-v", "grade", *arguments, "--challenge", "hello-api",
            "--out", str(out), "--format", "json"]
    # Locally one at a time: the reference the workers' results are compared with, nothing more.
    argv += ["--broker", broker] if broker else ["--sandbox", sandbox, "-j", "1"]
    return subprocess.run(argv, capture_output=True, text=True, timeout=GRADE_DEADLINE_S, check=False)


def verdicts(result: dict[str, Any]) -> dict[str, Any]:
    """What a grading concluded, without its timings, paths or dates."""
    return {
        "status": result["status"],
        "overall": result["overall"],
        "content_hash": result["submission"]["content_hash"],
        "framework": result["submission"]["framework"],
        "categories": [(c["id"], c["score"], c["evaluated"]) for c in result["categories"]],
        "checks": sorted((c["id"], c["status"], c.get("points"), c.get("max_points")) for c in result["checks"]),
        "tests": sorted((c["id"], t["name"], t["outcome"]) for c in result["checks"] for t in c.get("tests", [])),
        "challenge": result["challenge"]["content_hash"],
        "backend": result["sandbox"]["backend"],
    }


def read_results(out: Path, names: list[str]) -> dict[str, dict[str, Any]]:
    return {name: json.loads((out / name / "result.json").read_text()) for name in names}


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
