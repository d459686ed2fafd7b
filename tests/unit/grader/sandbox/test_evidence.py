"""Naming the limits an app hit: log signs, the Docker log marker and cap, the local survivor sweep."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from grader.models import Limits
from grader.sandbox.docker_pod import LOG_START, log_cap_bytes, without_start_line
from grader.sandbox.docker_watch import with_limits
from grader.sandbox.evidence import describe, limits_from_log, ordered
from grader.sandbox.local import RUN_TOKEN_VAR, kill_run_survivors


def test_log_signs_of_each_limit() -> None:
    assert limits_from_log("Traceback ...\nMemoryError\n") == {"memory"}
    assert limits_from_log("BlockingIOError: [Errno 11] Resource temporarily unavailable") == {"processes"}
    assert limits_from_log("RuntimeError: can't start new thread") == {"processes"}
    assert limits_from_log("OSError: [Errno 28] No space left on device") == {"disk"}
    assert limits_from_log("INFO: 127.0.0.1 GET /health 200") == set()


def test_limits_are_ordered_and_described() -> None:
    assert ordered(["disk", "memory", "disk"]) == ["memory", "disk"]
    assert describe(["output", "processes"]) == (
        "hit its process limit; wrote more output than the grader keeps (older output was dropped)")


def test_docker_log_cap_is_whole_kib_and_at_least_64() -> None:
    assert log_cap_bytes(Limits(log_bytes=1024)) == 64 * 1024
    assert log_cap_bytes(Limits(log_bytes=1_000_000)) == 976 * 1024


def test_the_graders_first_line_is_not_part_of_the_apps_log() -> None:
    assert without_start_line(f"{LOG_START}\nhello\n") == "hello\n"
    assert without_start_line("xxxx\nhello\n") == "xxxx\nhello\n"  # dropped by the cap: kept as it is


def test_start_problem_names_the_process_limit_with_its_number() -> None:
    problem = with_limits("did not start within 8 s", {"processes"}, Limits(pids=64))
    assert problem == "did not start within 8 s (the app hit its limit of 64 processes)"
    assert with_limits("did not start", set(), Limits()) == "did not start"


def test_local_sweep_kills_what_left_the_session_by_its_token() -> None:
    token = f"test-{os.getpid()}-{time.monotonic_ns()}"
    daemon = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True,
                              env={**os.environ, RUN_TOKEN_VAR: token})
    try:
        assert kill_run_survivors(token) == [daemon.pid]
        assert daemon.wait(timeout=120) == -9  # killed at once; the timeout only bounds a hang under load
        assert kill_run_survivors(token) == []
    finally:
        if daemon.poll() is None:
            daemon.kill()
