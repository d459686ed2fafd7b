"""The grader's side of the control channel (the runner's is `checks.app_control`): restart the app (and its
worker), stop it with a signal and report how it ended (then start it again), hand out its log or its
worker's. File names and shapes are `checks.formats`'.

A backend creates the control directory, gives its path to the runner, and calls `ControlServer.serve()`
from the loop that watches the run. The app never sees this directory, so only the grader's suite can ask.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Callable
from pathlib import Path

from checks.formats import (
    ANSWER_SUFFIX,
    CONTROL_ENV,
    HEALTH_PATH_ENV,
    MAX_STOP_GRACE_S,
    REQUEST_SUFFIX,
    STARTUP_TIMEOUT_ENV,
    STOP_SIGNALS,
    ControlAnswer,
    StopOutcome,
)

# A backend's stop: send the signal to the app (and worker), SIGKILL what is left after the grace, start
# both again; how each ended (the worker's None when there is none).
Stopper = Callable[[signal.Signals, float], tuple[StopOutcome, StopOutcome | None]]
STOP_LOG_CHARS = 64_000  # the most of a process's output since the signal that an answer carries

MAX_RESTARTS = 10  # a suite that restarts the app in a loop is a broken challenge, not a reason to hang
NO_WORKER = ("the submission declares no worker process (a Procfile `worker:` line or `[tool.grader] worker` "
             "in pyproject.toml), so there is no worker log")


class ControlServer:
    """Answers the suite's requests for one run with the backend's own restart and log readers."""

    def __init__(self, directory: Path, restart: Callable[[], None], read_log: Callable[[], str],
                 read_worker_log: Callable[[], str] | None = None, stop: Stopper | None = None) -> None:
        self.directory = directory
        self.restart = restart  # restarts the worker too, when there is one
        self.stop = stop  # None: this backend cannot stop the app with a signal
        self.read_log = read_log
        self.read_worker_log = read_worker_log  # None: no worker was declared
        self.restarts = 0

    @classmethod
    def create(cls, directory: Path, restart: Callable[[], None], read_log: Callable[[], str],
               read_worker_log: Callable[[], str] | None = None, stop: Stopper | None = None) -> ControlServer:
        """Make the directory (writable by the runner's user) and a server for it."""
        directory.mkdir(parents=True, exist_ok=True)
        directory.chmod(0o777)
        return cls(directory, restart, read_log, read_worker_log, stop)

    def serve(self) -> None:
        """Answer every request waiting now, oldest first."""
        for request, action in pending_requests(self.directory):
            write_answer(request, self._handle(action, request))

    def _handle(self, action: str, request: Path) -> ControlAnswer:
        try:
            if action == "restart":
                return self._restart()
            if action == "stop":
                return self._stop(request)
            if action == "log":
                return {"ok": True, "error": None, "log": self.read_log()}
            if action == "worker_log":
                if self.read_worker_log is None:
                    return {"ok": False, "error": NO_WORKER}
                return {"ok": True, "error": None, "log": self.read_worker_log()}
        except Exception as exc:  # the answer carries the reason to the test that asked
            return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        return {"ok": False, "error": f"unknown action {action!r}"}

    def _restart(self) -> ControlAnswer:
        if self.restarts >= MAX_RESTARTS:
            return {"ok": False, "error": f"the app was already restarted {MAX_RESTARTS} times in this run"}
        self.restarts += 1
        self.restart()
        return {"ok": True, "error": None}

    def _stop(self, request: Path) -> ControlAnswer:
        if self.stop is None:
            return {"ok": False, "error": "this backend cannot stop the app with a signal"}
        if self.restarts >= MAX_RESTARTS:  # a stop starts the app again: it counts as a restart
            return {"ok": False, "error": f"the app was already restarted {MAX_RESTARTS} times in this run"}
        signum, grace_s = parse_stop_request(request.read_text())
        self.restarts += 1
        app, worker = self.stop(signum, grace_s)
        return {"ok": True, "error": None, "app": app, "worker": worker}


def parse_stop_request(text: str) -> tuple[signal.Signals, float]:
    """The signal and grace of a `stop` request's body; ValueError when either is not allowed."""
    body = json.loads(text or "{}")
    name, grace_s = body.get("signal"), body.get("grace_s")
    if name not in STOP_SIGNALS:
        raise ValueError(f"signal {name!r} is not one a suite may send; use one of {', '.join(STOP_SIGNALS)}")
    if not isinstance(grace_s, (int, float)) or isinstance(grace_s, bool) or not 0 < grace_s <= MAX_STOP_GRACE_S:
        raise ValueError(f"grace_s {grace_s!r} must be a number above 0 and at most {MAX_STOP_GRACE_S:g}")
    return signal.Signals[name], float(grace_s)


def exit_code_of(returncode: int | None) -> int | None:
    """A process's exit code the shell's way: 128+N when signal N ended it (Popen reports -N)."""
    if returncode is None or returncode >= 0:
        return returncode
    return 128 - returncode


def runner_environment(directory: str, health_path: str, startup_timeout_s: float) -> dict[str, str]:
    """What a backend puts in the runner's environment so the suite can use the channel."""
    return {CONTROL_ENV: directory, HEALTH_PATH_ENV: health_path, STARTUP_TIMEOUT_ENV: f"{startup_timeout_s:g}"}


def pending_requests(directory: Path) -> list[tuple[Path, str]]:
    """Requests not answered yet, oldest first, as (request file, action)."""
    found = []
    for request in sorted(directory.glob(f"*{REQUEST_SUFFIX}")):
        action = request.stem.rsplit("-", 1)[-1]
        if not request.with_suffix(ANSWER_SUFFIX).exists():
            found.append((request, action))
    return found


def write_answer(request: Path, answer: ControlAnswer) -> None:
    """Write the answer to `request` atomically (the runner never reads half a file)."""
    tmp = request.with_name(f".{request.stem}.answer.tmp")
    tmp.write_text(json.dumps(answer))
    tmp.chmod(0o644)
    tmp.replace(request.with_suffix(ANSWER_SUFFIX))
