"""Whose is a container or volume (grader.sandbox.owner), without an engine: a running grader, a gone one
(dead, reused or unreaped pid), another host's and an unrecorded owner; and the test run a grader
started by the test suite labels its resources with. `grader sandbox cleanup` acts on
these states against the real engine in tests/docker/grader/sandbox/test_cleanup.py.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import psutil
import pytest

from grader.sandbox.docker_pod import MANAGED_LABEL, Launcher
from grader.sandbox.owner import (
    OWNER_HOST_LABEL,
    OWNER_PID_LABEL,
    OWNER_STARTED_LABEL,
    TEST_RUN_LABEL,
    TEST_RUN_VAR,
    owner_labels,
    owner_state,
)


def labels_for(pid: int, started: float, host: str | None = None) -> dict[str, str]:
    return {OWNER_HOST_LABEL: host or socket.gethostname(), OWNER_PID_LABEL: str(pid),
            OWNER_STARTED_LABEL: f"{started:.3f}"}


def test_this_process_is_a_running_owner() -> None:
    assert owner_state(owner_labels()) == "running"


def test_a_dead_pid_is_gone_and_a_reused_pid_is_gone_too() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    started = psutil.Process(child.pid).create_time() if child.poll() is None else time.time()
    child.wait()
    assert owner_state(labels_for(child.pid, started)) == "gone"
    this = psutil.Process()
    assert owner_state(labels_for(this.pid, this.create_time() - 3600)) == "gone", "same pid, another process"


def test_a_killed_but_unreaped_grader_is_gone() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        started = psutil.Process(child.pid).create_time()
        assert owner_state(labels_for(child.pid, started)) == "running"
        child.kill()
        deadline = time.monotonic() + 120
        while psutil.Process(child.pid).status() != psutil.STATUS_ZOMBIE and time.monotonic() < deadline:
            time.sleep(0.05)
        assert owner_state(labels_for(child.pid, started)) == "gone"
    finally:
        child.kill()
        child.wait()


def test_another_host_and_no_owner_are_never_gone() -> None:
    this = psutil.Process()
    assert owner_state(labels_for(999_999, 1.0, host="ci-runner-7")) == "other-host"
    assert owner_state(labels_for(this.pid, this.create_time(), host="ci-runner-7")) == "other-host"
    assert owner_state({MANAGED_LABEL: "1"}) == "unknown"
    assert owner_state({**labels_for(this.pid, 0.0), OWNER_PID_LABEL: "not-a-pid"}) == "unknown"


def test_a_test_run_named_in_the_environment_labels_all_the_grader_makes(monkeypatch: pytest.MonkeyPatch) -> None:
    """$GRADER_TEST_RUN reaches every container and volume label (the Launcher's), and nothing without it."""
    launcher = Launcher(engine=None, run_id="r1", session="s1", log=lambda _: None)  # type: ignore[arg-type]
    monkeypatch.setenv(TEST_RUN_VAR, "pytest-run-42")
    assert owner_labels()[TEST_RUN_LABEL] == "pytest-run-42"
    assert launcher.labels("app")[TEST_RUN_LABEL] == launcher.labels("data")[TEST_RUN_LABEL] == "pytest-run-42"
    monkeypatch.setenv(TEST_RUN_VAR, "  ")
    assert TEST_RUN_LABEL not in launcher.labels("app")
    monkeypatch.delenv(TEST_RUN_VAR)
    assert TEST_RUN_LABEL not in owner_labels() and owner_state(owner_labels()) == "running"
