"""The runner's side of the control channel between a challenge suite and the grader.

A hidden test may need what only the grader can do: restart the candidate's app, or read what the app
wrote to stdout/stderr. The runner cannot touch the app's container or process, so it asks: it drops a
request file into the control directory (`$GRADER_CONTROL_DIR`, a directory only the runner and the grader
see, never the app) and waits for the grader's answer file next to it. The grader serves requests while the
suite runs (`grader.sandbox.control`). Requests are files, not sockets: the runner has no network but the
app's loopback, and a file protocol works the same for the Docker and the local backend.

Request:  `<seq>-<action>.req` (written atomically)    actions: `restart`, `log`, `worker_log`, `stop`
          empty, or for `stop` a JSON StopRequest {"signal": "SIGTERM", "grace_s": 5}
Answer:   `<seq>-<action>.json`  {"ok": bool, "error": str | null, "log": str (for `log`, `worker_log`),
          "app"/"worker": StopOutcome (for `stop`)}
(names and shapes in `checks.formats`)
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from pathlib import Path

from checks.formats import (
    ANSWER_SUFFIX,
    CONTROL_ACTIONS,
    CONTROL_ENV,
    HEALTH_PATH_ENV,
    REQUEST_SUFFIX,
    STARTUP_TIMEOUT_ENV,
    ControlAnswer,
)


class ControlError(RuntimeError):
    """The grader did not do what was asked (no answer in time, or it reported a failure)."""


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


def ask(directory: Path, action: str, timeout_s: float, body: Mapping[str, object] | None = None) -> ControlAnswer:
    """Send one request (with a JSON `body` for `stop`) and wait for its answer; raise ControlError on failure
    or timeout."""
    if action not in CONTROL_ACTIONS:
        raise ValueError(f"unknown control action {action!r}; use one of {CONTROL_ACTIONS}")
    stem = f"{time.time_ns():020d}-{os.getpid()}-{action}"
    pending = directory / f".{stem}.tmp"
    pending.write_bytes(json.dumps(dict(body)).encode() if body is not None else b"")
    pending.replace(directory / f"{stem}{REQUEST_SUFFIX}")
    answer_path = directory / f"{stem}{ANSWER_SUFFIX}"
    deadline = time.monotonic() + timeout_s
    while not answer_path.exists():
        if time.monotonic() > deadline:
            raise ControlError(f"the grader did not answer the {action} request within {timeout_s:g} s")
        time.sleep(0.05)
    answer: ControlAnswer = json.loads(answer_path.read_text())
    if not answer.get("ok"):
        what = {"restart": "restart the app", "log": "read the app's log", "worker_log": "read the worker's log",
                "stop": "stop the app"}
        reason = answer.get("error") or "no reason given"
        raise ControlError(f"the grader could not {what.get(action, action)}: {reason}")
    return answer
