"""The grader's side of the control channel (see `checks.app_control`): restart the app, hand out its log.

A backend creates the control directory, gives its path to the runner, and calls `ControlServer.serve()`
from the loop that watches the run. The app never sees this directory, so only the grader's suite can ask.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from checks.app_control import pending_requests, write_answer

MAX_RESTARTS = 10  # a suite that restarts the app in a loop is a broken challenge, not a reason to hang


class ControlServer:
    """Answers the suite's requests for one run with the backend's own restart and log readers."""

    def __init__(self, directory: Path, restart: Callable[[], None], read_log: Callable[[], str]) -> None:
        self.directory = directory
        self.restart = restart
        self.read_log = read_log
        self.restarts = 0

    @classmethod
    def create(cls, directory: Path, restart: Callable[[], None], read_log: Callable[[], str]) -> ControlServer:
        """Make the directory (writable by the runner's user) and a server for it."""
        directory.mkdir(parents=True, exist_ok=True)
        directory.chmod(0o777)
        return cls(directory, restart, read_log)

    def serve(self) -> None:
        """Answer every request waiting now, oldest first."""
        for request, action in pending_requests(self.directory):
            write_answer(request, self._handle(action))

    def _handle(self, action: str) -> dict[str, Any]:
        try:
            if action == "restart":
                return self._restart()
            if action == "log":
                return {"ok": True, "error": None, "log": self.read_log()}
        except Exception as exc:  # the answer carries the reason to the test that asked
            return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        return {"ok": False, "error": f"unknown action {action!r}"}

    def _restart(self) -> dict[str, Any]:
        if self.restarts >= MAX_RESTARTS:
            return {"ok": False, "error": f"the app was already restarted {MAX_RESTARTS} times in this run"}
        self.restarts += 1
        self.restart()
        return {"ok": True, "error": None}
