"""The control channel between a challenge suite (in the runner) and the grader (on the host).

A hidden test may need what only the grader can do: restart the candidate's app, or read what the app
wrote to stdout/stderr. The runner cannot touch the app's container or process, so it asks: it drops a
request file into the control directory (`$GRADER_CONTROL_DIR`, a directory only the runner and the grader
see, never the app) and waits for the grader's answer file next to it. The grader serves requests while the
suite runs (`grader.sandbox.control`). Requests are files, not sockets: the runner has no network but the
app's loopback, and a file protocol works the same for the Docker and the local backend.

Request:  `<seq>-<action>.req` (empty; written atomically)    actions: `restart`, `log`
Answer:   `<seq>-<action>.json`  {"ok": bool, "error": str | null, "log": str (for `log`)}
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

CONTROL_ENV = "GRADER_CONTROL_DIR"
HEALTH_PATH_ENV = "GRADER_HEALTH_PATH"
STARTUP_TIMEOUT_ENV = "GRADER_STARTUP_TIMEOUT_S"
ACTIONS = ("restart", "log")
REQUEST_SUFFIX = ".req"
ANSWER_SUFFIX = ".json"


class ControlError(RuntimeError):
    """The grader did not do what was asked (no answer in time, or it reported a failure)."""


def runner_environment(directory: str, health_path: str, startup_timeout_s: float) -> dict[str, str]:
    """What a backend puts in the runner's environment so the suite can use the channel."""
    return {CONTROL_ENV: directory, HEALTH_PATH_ENV: health_path, STARTUP_TIMEOUT_ENV: f"{startup_timeout_s:g}"}


def health_path() -> str:
    """The app's health path, as the backend gave it (default /health)."""
    return os.environ.get(HEALTH_PATH_ENV, "/health")


def startup_timeout_s() -> float:
    """How long the app may take to answer its health path, as the backend gave it (default 60 s)."""
    return float(os.environ.get(STARTUP_TIMEOUT_ENV, "60"))


def control_dir() -> Path | None:
    """The control directory of this run, or None when the suite runs outside the grader."""
    value = os.environ.get(CONTROL_ENV)
    return Path(value) if value else None


def ask(directory: Path, action: str, timeout_s: float) -> dict[str, Any]:
    """Send one request and wait for its answer; raise ControlError on failure or timeout."""
    if action not in ACTIONS:
        raise ValueError(f"unknown control action {action!r}; use one of {ACTIONS}")
    stem = f"{time.time_ns():020d}-{os.getpid()}-{action}"
    pending = directory / f".{stem}.tmp"
    pending.write_bytes(b"")
    pending.replace(directory / f"{stem}{REQUEST_SUFFIX}")
    answer_path = directory / f"{stem}{ANSWER_SUFFIX}"
    deadline = time.monotonic() + timeout_s
    while not answer_path.exists():
        if time.monotonic() > deadline:
            raise ControlError(f"the grader did not answer the {action} request within {timeout_s:g} s")
        time.sleep(0.05)
    answer: dict[str, Any] = json.loads(answer_path.read_text())
    if not answer.get("ok"):
        raise ControlError(f"the grader could not {action} the app: {answer.get('error') or 'no reason given'}")
    return answer


def pending_requests(directory: Path) -> list[tuple[Path, str]]:
    """Requests not answered yet, oldest first, as (request file, action)."""
    found = []
    for request in sorted(directory.glob(f"*{REQUEST_SUFFIX}")):
        action = request.stem.rsplit("-", 1)[-1]
        if not request.with_suffix(ANSWER_SUFFIX).exists():
            found.append((request, action))
    return found


def write_answer(request: Path, answer: dict[str, Any]) -> None:
    """Write the answer to `request` atomically (the runner never reads half a file)."""
    tmp = request.with_name(f".{request.stem}.answer.tmp")
    tmp.write_text(json.dumps(answer))
    tmp.chmod(0o644)
    tmp.replace(request.with_suffix(ANSWER_SUFFIX))
