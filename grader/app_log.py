"""The line of an app's output that says why it never became ready.

A crashed app's log is mostly noise for a reader in a hurry: a 40-frame traceback through uvicorn and
importlib, server banners, a final "Application startup failed. Exiting.". What a reviewer needs first is
the exception at the end of the last traceback (`ImportError: cannot import name 'X' from 'settings'`),
with the candidate's file and line for a syntax error. Plain text in, plain text out: nothing is run.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

MAX_CHARS = 300
TRACEBACK_HEADER = "Traceback (most recent call last):"
_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+)')
_CONTROL = re.compile(r"\x1b\[[0-9;]*[A-Za-z]|[\x00-\x08\x0b-\x1f\x7f]")
_SYNTAX_ERRORS = ("SyntaxError", "IndentationError", "TabError")
# Words that mark a line as the one explaining a failure, when there is no traceback.
_FAILURE_WORDS = re.compile(
    r"error|exception|fatal|failed|cannot|can't|could not|couldn't|not found|no module|denied|refused|abort",
    re.IGNORECASE,
)


def failure_line(log: str, app_roots: Sequence[str] = ()) -> str | None:
    """The exception ending the log's last traceback, else its last line that names a failure, else its
    last non-blank line; None for an empty log. A syntax error gets the file and line it points at, with
    `app_roots` (where the app's code was mounted) removed from the path."""
    lines = [_CONTROL.sub("", line).rstrip() for line in log.splitlines()]
    lines = [line for line in lines if line.strip()]
    if not lines:
        return None
    found = _traceback_exception(lines, app_roots)
    if found is None:
        found = next((line.strip() for line in reversed(lines) if _FAILURE_WORDS.search(line)), lines[-1].strip())
    return found if len(found) <= MAX_CHARS else found[: MAX_CHARS - 1] + "…"


def _traceback_exception(lines: list[str], app_roots: Sequence[str]) -> str | None:
    """The first unindented line after the last traceback header (the exception), with a syntax error's place."""
    starts = [index for index, line in enumerate(lines) if line.strip() == TRACEBACK_HEADER]
    if not starts:
        return None
    frame: tuple[str, str] | None = None
    for line in lines[starts[-1] + 1:]:
        match = _FRAME.match(line)
        if match is not None:
            frame = (match["file"], match["line"])
            continue
        if line[:1].isspace():
            continue
        exception = _without_roots(line.strip(), app_roots)
        if exception.startswith(_SYNTAX_ERRORS) and frame is not None:
            return f"{exception} ({_without_roots(frame[0], app_roots)}:{frame[1]})"
        return exception
    return None


def _without_roots(text: str, app_roots: Sequence[str]) -> str:
    """`/app/settings.py` -> `settings.py`: the candidate's paths as they are in the submission."""
    for root in app_roots:
        if root.strip("/"):
            text = text.replace(root.rstrip("/") + "/", "")
    return text


def not_ready_sentence(problem: str | None) -> str:
    """`The app did not start: the app exited with code 3 ...`, whatever the recorded wording (no final stop)."""
    problem = (problem or "").strip().rstrip(".")
    if not problem:
        return "The app did not start"
    if problem.startswith(("did not", "was not")):
        return f"The app {problem}"
    return f"The app did not start: {problem}"
