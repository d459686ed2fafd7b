"""Which grader process owns a container, volume or network, and whether that process still runs.

Every resource the Docker backend creates carries its owner's host name, pid and process start time
(`owner_labels`). `grader sandbox cleanup` then removes only what a grader that is gone left behind:
a pid alone is not enough (pids are reused), and a pid means nothing on another host sharing the engine
(a CI runner's containers, a remote `DOCKER_HOST`).

A test session names itself in `$GRADER_TEST_RUN`; everything its gradings create then also carries
`grader.test-run=<id>`, so its leftover check looks only at its own resources on an engine that other
gradings share (`labels_of_test_run`).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from datetime import datetime
from typing import Literal

OWNER_HOST_LABEL = "grader.owner.host"
OWNER_PID_LABEL = "grader.owner.pid"
OWNER_STARTED_LABEL = "grader.owner.started"  # the process's start time, seconds since the epoch
START_TOLERANCE_S = 1.0  # the start time is read back from the kernel: allow for rounding, not for reuse
TEST_RUN_VAR = "GRADER_TEST_RUN"
TEST_RUN_LABEL = "grader.test-run"

# running: its grader runs on this host; gone: its grader's pid is dead or now another process;
# other-host: labelled by a grader on another host; unknown: no owner labels (a grader older than them)
OwnerState = Literal["running", "gone", "other-host", "unknown"]


def owner_labels() -> dict[str, str]:
    """The labels naming this process (and the test run it belongs to, if any) as the owner of what it creates."""
    pid = os.getpid()
    started = process_start_time(pid) or 0.0  # this very process: it runs and is readable
    return {OWNER_HOST_LABEL: socket.gethostname(), OWNER_PID_LABEL: str(pid), OWNER_STARTED_LABEL: f"{started:.3f}",
            **labels_of_test_run()}


def labels_of_test_run() -> dict[str, str]:
    """`grader.test-run=<id>` when `$GRADER_TEST_RUN` names a test session, else nothing."""
    run = os.environ.get(TEST_RUN_VAR, "").strip()
    return {TEST_RUN_LABEL: run} if run else {}


def owner_state(labels: Mapping[str, str]) -> OwnerState:
    """Whether the grader named by a resource's labels still runs (checked only on the host it names)."""
    host, pid, started = (labels.get(OWNER_HOST_LABEL), labels.get(OWNER_PID_LABEL),
                          labels.get(OWNER_STARTED_LABEL))
    if not host or not pid or not started:
        return "unknown"
    if host != socket.gethostname():
        return "other-host"
    try:
        pid_number, start = int(pid), float(started)
    except ValueError:
        return "unknown"
    return "running" if _same_process_runs(pid_number, start) else "gone"


def describe_owner(labels: Mapping[str, str]) -> str:
    """`pid 1234 on build-7, started 2025-05-01 12:03:04`, or what is missing."""
    host, pid, started = (labels.get(OWNER_HOST_LABEL), labels.get(OWNER_PID_LABEL),
                          labels.get(OWNER_STARTED_LABEL))
    if not host or not pid or not started:
        return "no owner recorded (made by an older grader)"
    try:
        when = datetime.fromtimestamp(float(started)).isoformat(sep=" ", timespec="seconds")
    except (ValueError, OverflowError, OSError):
        when = started
    return f"pid {pid} on {host}, started {when}"


def process_start_time(pid: int) -> float | None:
    """When process `pid` started (seconds since the epoch), or None when there is no such live process.

    Raises psutil.AccessDenied when it exists but belongs to a user whose processes this one cannot read.
    """
    import psutil  # where used: the CLI starts without loading its platform backend

    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:  # killed, not yet reaped by its parent: gone
            return None
        return float(process.create_time())
    except psutil.NoSuchProcess:
        return None


def _same_process_runs(pid: int, started: float) -> bool:
    """Whether `pid` is alive and is still the process that started at `started` (pids are reused)."""
    import psutil

    try:
        actual = process_start_time(pid)
    except psutil.AccessDenied:  # it exists but is someone else's: never take it for gone
        return True
    return actual is not None and abs(actual - started) <= START_TOLERANCE_S
