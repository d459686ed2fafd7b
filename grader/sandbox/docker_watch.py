"""Watching one Docker grading and telling what happened: the app's start, its limits, the suite's report.

`supervise` watches the runner and the app until the runner ends, the app dies before it answered its health
path, or time runs out; it answers the suite's control requests meanwhile, then stops both containers and reads
the outcome from their state and logs.
"""

from __future__ import annotations

import threading
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.engine import Container
from grader.models import AppRun, Limits, WorkerRun
from grader.sandbox.base import AppRunRequest, RunOutcome
from grader.sandbox.control import ControlServer
from grader.sandbox.docker_pod import (
    LOG_START,
    NOT_READY_EXIT,
    POLL_S,
    READY_MARKER,
    log_cap_bytes,
    without_start_line,
)
from grader.sandbox.evidence import Limit, describe, limits_from_log, ordered, worker_problem

LOG_TAIL_CHARS = 4000
DEADLINE_SLACK_S = 10  # beyond the startup and test timeouts, before a run counts as overdue
STATS_EVERY_S = 0.5  # how often the app's process count is sampled (in a thread)
# Where the engine's cgroup for a container keeps its process count (cgroup v1, v2 with cgroupfs or systemd).
PIDS_CURRENT_FILES = (
    "/sys/fs/cgroup/pids/docker/{id}/pids.current",
    "/sys/fs/cgroup/docker/{id}/pids.current",
    "/sys/fs/cgroup/system.slice/docker-{id}.scope/pids.current",
)


@dataclass
class _Watched:
    """What the watch loop saw: when the app became ready, and how the loop ended."""

    started: float
    ready_at: float | None = None
    died_early: bool = False
    timed_out: bool = False


def supervise(apps: list[Container], runner: Container, request: AppRunRequest, out_dir: Path,
              control: ControlServer, worker: Container | None = None) -> RunOutcome:
    """Watch runner and app (every replica's container) until the runner ends, an app container dies before
    health, or time runs out."""
    app = apps[0]
    peak_pids = PeakPids(app).start()  # the first replica's: they all run the same code
    watched = _watch(apps, runner, request, out_dir, control)
    peak_pids.stop()
    app_state = _first_exited_state(apps)  # before anything is stopped: did a replica die on its own?
    worker_state = worker.state() if worker is not None else {}  # and the worker?
    for container in (runner, *apps, worker):
        if container is not None:
            container.kill()  # nothing graceful is needed: logs and results survive a kill
    runner_exit = runner.state().get("ExitCode")
    seen: set[Limit] = set()
    if peak_pids.peak >= request.limits.pids:
        seen.add("processes")
    if watched.timed_out and watched.ready_at is not None:
        seen.add("test_timeout")
    app_run = _app_run(apps, app_state, request.limits, watched, runner_exit, seen)
    if worker is not None and request.worker_command:
        app_run = app_run.model_copy(update={"worker": _worker_run(worker, worker_state, request)})
    if request.replicas > 1:
        app_run = app_run.model_copy(update={"replicas": request.replicas})
    report = out_dir / "hidden.json"
    return RunOutcome(
        app=app_run,
        report=_copy_out(report, request.output_dir) if report.exists() else None,
        runner_log=runner.logs()[-LOG_TAIL_CHARS:],
        runner_problem=_runner_problem(request, watched, app_run, report, runner_exit),
        tests_seconds=round(time.monotonic() - watched.ready_at if watched.ready_at else 0.0, 3),
    )


def _first_exited_state(apps: list[Container]) -> dict[str, Any]:
    """The state of the first app container (replica) that has exited, else the first one's: a replica that
    died is evidence like the app dying."""
    states = [app.state() for app in apps]
    return next((state for state in states if state.get("Status") == "exited"), states[0])


def _watch(apps: list[Container], runner: Container, request: AppRunRequest, out_dir: Path,
           control: ControlServer) -> _Watched:
    watched = _Watched(started=time.monotonic())
    deadline = watched.started + request.limits.startup_timeout_s + request.limits.test_timeout_s + DEADLINE_SLACK_S
    ready = out_dir / READY_MARKER
    while True:
        runner_state = runner.state()
        if watched.ready_at is None and ready.exists():
            watched.ready_at = time.monotonic()
        if runner_state["Status"] == "exited":
            break
        if watched.ready_at is None and any(app.state()["Status"] == "exited" for app in apps):
            watched.died_early = True
            break
        if time.monotonic() > deadline:
            watched.timed_out = True
            break
        control.serve()
        time.sleep(POLL_S)
    if watched.ready_at is None and ready.exists():
        watched.ready_at = time.monotonic()
    return watched


def _runner_problem(request: AppRunRequest, watched: _Watched, app: AppRun, report: Path, runner_exit: int | None
                    ) -> str | None:
    if watched.timed_out and not (watched.ready_at is not None and report.exists()):
        return f"the hidden suite did not finish within {request.limits.test_timeout_s:g} s"
    if app.started and not report.exists():
        return f"the runner ended with exit code {runner_exit} without a report"
    return None


def _app_run(apps: list[Container], state: dict[str, Any], limits: Limits, watched: _Watched,
             runner_exit: int | None, seen: set[Limit]) -> AppRun:
    raw_logs = [app.logs() for app in apps]  # one per replica, one after the other
    truncated = any(bool(raw) and LOG_START not in raw[: len(LOG_START) + 200] for raw in raw_logs)
    log = "".join(without_start_line(raw) for raw in raw_logs)
    exit_code = state.get("ExitCode") if state.get("Status") == "exited" else None
    oom = bool(state.get("OOMKilled"))
    ready_at, exited = watched.ready_at, watched.died_early or exit_code is not None
    limits_hit = seen | limits_from_log(log)
    if oom:
        limits_hit.add("memory")
    if truncated:
        limits_hit.add("output")
    if ready_at is None and not exited and runner_exit == NOT_READY_EXIT:
        limits_hit.add("startup_timeout")
    problem = None
    if ready_at is None:
        problem = _start_problem(limits, exited, exit_code, oom, runner_exit)
        problem = with_limits(problem, limits_hit - {"startup_timeout", "memory"}, limits)
    return AppRun(
        started=ready_at is not None,
        start_seconds=round(ready_at - watched.started, 3) if ready_at else None,
        exit_code=exit_code,
        oom_killed=oom,
        log_tail=log[-LOG_TAIL_CHARS:],
        log_truncated=truncated,
        log_cap_bytes=log_cap_bytes(limits),
        limits_hit=ordered(limits_hit),
        problem=problem,
    )


def _worker_run(worker: Container, state: dict[str, Any], request: AppRunRequest) -> WorkerRun:
    """What became of the worker: its exit code when it ended by itself before teardown, and its output."""
    assert request.worker_command is not None
    exit_code = state.get("ExitCode") if state.get("Status") == "exited" else None
    oom = bool(state.get("OOMKilled"))
    return WorkerRun(command=request.worker_command, exit_code=exit_code, oom_killed=oom,
                     log_tail=without_start_line(worker.logs())[-LOG_TAIL_CHARS:],
                     problem=worker_problem(exit_code, oom, request.limits.memory_mb))


def _start_problem(
    limits: Limits, exited: bool, exit_code: int | None, oom: bool, runner_exit: int | None
) -> str:
    if oom:
        return f"did not start: killed for exceeding the {limits.memory_mb} MB memory limit"
    if exited:
        return f"did not start: the app exited with code {exit_code} before answering its health path"
    if runner_exit == NOT_READY_EXIT:
        return f"did not start within {limits.startup_timeout_s:g} s: the health path never answered 2xx"
    return "did not start: the grader's runner stopped before the app answered"


def with_limits(problem: str, limits_hit: set[Limit], limits: Limits) -> str:
    """`problem`, followed by the limits the app ran into (the process limit with its number)."""
    if not limits_hit:
        return problem
    words = describe(limits_hit).replace("hit its process limit", f"hit its limit of {limits.pids} processes")
    return f"{problem} (the app {words})"


def _copy_out(report: Path, target: Path) -> Path:
    destination = target / report.name
    destination.write_bytes(report.read_bytes())
    return destination


class PeakPids:
    """The most processes the app container ran at once, sampled in a thread of its own.

    The cgroup's `pids.current` file is read when this host has it (instant); otherwise the engine's
    one-shot stats are asked, which takes about a second on some engines: in a thread, that never delays
    noticing the end of the hidden suite.
    """

    def __init__(self, container: Container) -> None:
        self.container = container
        self.peak = 0
        self._stopped = threading.Event()
        self._files = [Path(pattern.format(id=container.id)) for pattern in PIDS_CURRENT_FILES]
        self._thread = threading.Thread(target=self._loop, name="grader-peak-pids", daemon=True)

    def start(self) -> PeakPids:
        """Start sampling."""
        self._thread.start()
        return self

    def stop(self) -> int:
        """Stop sampling (a last instant read where the cgroup file exists) and return the peak."""
        self._stopped.set()
        self._record(self._from_cgroup())
        return self.peak

    def _loop(self) -> None:
        while not self._stopped.is_set():
            current = self._from_cgroup()
            self._record(current if current is not None else self.container.process_count())
            self._stopped.wait(STATS_EVERY_S)

    def _record(self, current: int | None) -> None:
        if current is not None:
            self.peak = max(self.peak, current)

    def _from_cgroup(self) -> int | None:
        for path in self._files:
            with suppress(OSError, ValueError):
                return int(path.read_text().strip())
        return None
