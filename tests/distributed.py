"""What the distributed tests share (tests/network/test_distributed.py on the local backend,
tests/docker/test_distributed.py on the Docker backend): a private `redis-server` with a password, `grader
worker` processes with a cache each, the coordinator (`grader grade --broker`) and the comparison of results.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest

from grader.challenge import load_challenge
from tests.conftest import free_port, skip_or_fail, wait_for_port

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
    """A `grader worker` process and the file it logs to."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def text(self) -> str:
        """Everything the worker logged so far."""
        return self.log.read_text(errors="replace")

    def pids(self) -> set[int]:
        """The worker's process and its pool's (the processes that own the containers of its gradings)."""
        try:
            parent = psutil.Process(self.process.pid)
            return {parent.pid, *(child.pid for child in parent.children(recursive=True))}
        except psutil.NoSuchProcess:
            return set()


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
                 env: dict[str, str] | None = None, visibility_timeout_s: float = VISIBILITY_TIMEOUT_S) -> Worker:
    """`grader worker` in its own session with its own cache, logging to a file."""
    home.mkdir(parents=True, exist_ok=True)
    log = home / "worker.log"
    env = {**os.environ, "GRADER_CACHE_DIR": str(home / "cache"), **(env or {})}
    argv = [sys.executable, "-m", "grader", "worker", "--broker", broker, "--sandbox", sandbox,
            "--name", f"{name}@test", "--visibility-timeout", str(visibility_timeout_s), *extra]
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
    """SIGKILL a process and all its descendants."""
    try:
        parent = psutil.Process(pid)
        processes = [parent, *parent.children(recursive=True)]
    except psutil.NoSuchProcess:
        return
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()


def wait_for(condition: Callable[[], Any], what: str, deadline_s: float = EVENT_DEADLINE_S) -> None:
    """Poll `condition` until it holds; the deadline only turns a hang into a failure."""
    deadline = time.monotonic() + deadline_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.5)


def make_cohort(folder: Path) -> Path:
    """The cohort of `COHORT`: a copy of a bundled solution per name."""
    for name, solution in COHORT.items():
        shutil.copytree(SOLUTIONS / solution, folder / name, copy_function=shutil.copy2)
    return folder


def new_copies(folder: Path, solution: str, names: list[str]) -> Path:
    """Copies of a bundled solution, each with content of its own, so that no worker has a result to reuse."""
    for name in names:
        shutil.copytree(SOLUTIONS / solution, folder / name, copy_function=shutil.copy2)
        (folder / name / "NOTES.md").write_text(f"{name}'s notes\n")
    return folder


def grade(arguments: list[str], out: Path, broker: str | None = None,
          sandbox: str = "local") -> subprocess.CompletedProcess[str]:
    """`grader grade` of hello-api into `out`: through the broker, or here on `sandbox` one at a time."""
    argv = coordinator_argv(arguments, out, broker) if broker else [
        sys.executable, "-m", "grader", "-v", "grade", *arguments, "--challenge", "hello-api",
        "--out", str(out), "--format", "json", "--sandbox", sandbox, "-j", "1"]
    return subprocess.run(argv, capture_output=True, text=True, timeout=GRADE_DEADLINE_S, check=False)


def coordinator_argv(arguments: list[str], out: Path, broker: str) -> list[str]:
    """The command line of `grader grade --broker` for hello-api."""
    return [sys.executable, "-m", "grader", "-v", "grade", *arguments, "--challenge", "hello-api",
            "--out", str(out), "--format", "json", "--broker", broker]


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
    """The result.json of each name under `out`."""
    return {name: json.loads((out / name / "result.json").read_text()) for name in names}
