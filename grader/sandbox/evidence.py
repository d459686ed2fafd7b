"""What an app ran into, read from the evidence a backend has: its state, its process count, its log.

Both backends name the limits an app hit in `AppRun.limits_hit`, so a result says "out of memory",
"too many processes", "output truncated" or "data dir full" instead of a bare exit code. Signs read
from the app's own log are written by candidate code: they can add a limit to the list, never remove
one the sandbox observed itself (OOM kill, process count, timeouts, the log cap).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Literal

Limit = Literal["memory", "processes", "startup_timeout", "test_timeout", "output", "disk"]
ORDER: tuple[Limit, ...] = ("memory", "processes", "startup_timeout", "test_timeout", "output", "disk")

# What Python, glibc and shells print when the kernel refuses memory, a process or disk space.
_LOG_SIGNS: dict[Limit, re.Pattern[str]] = {
    "memory": re.compile(r"\bMemoryError\b|Cannot allocate memory|\[Errno 12\]"),
    "processes": re.compile(
        r"Resource temporarily unavailable|\[Errno 11\]|BlockingIOError|can't start new thread"
        r"|fork: retry|Cannot fork|fork failed"
    ),
    "disk": re.compile(r"No space left on device|\[Errno 28\]|File too large|\[Errno 27\]|Disk quota exceeded"),
}

LIMIT_WORDS: dict[Limit, str] = {
    "memory": "ran out of memory",
    "processes": "hit its process limit",
    "startup_timeout": "did not answer its health path in time",
    "test_timeout": "kept the hidden suite past its time limit",
    "output": "wrote more output than the grader keeps (older output was dropped)",
    "disk": "filled its writable space",
}


def limits_from_log(log: str) -> set[Limit]:
    """Limits the app's own output says it ran into (candidate-written: evidence, not proof)."""
    return {limit for limit, pattern in _LOG_SIGNS.items() if pattern.search(log)}


def ordered(limits: Iterable[Limit]) -> list[Limit]:
    """The limits once each, in a fixed order, for a stable result."""
    present = set(limits)
    return [limit for limit in ORDER if limit in present]


def describe(limits: Iterable[Limit]) -> str:
    """`the app ran out of memory; hit its process limit`, or an empty string."""
    words = [LIMIT_WORDS[limit] for limit in ordered(limits)]
    return "; ".join(words)


def worker_problem(exit_code: int | None, oom_killed: bool, memory_mb: int) -> str | None:
    """Why the worker ended while the app ran (None when it was still running at teardown)."""
    if oom_killed:
        return f"the worker was killed for exceeding the {memory_mb} MB memory limit while the app ran"
    if exit_code is None:
        return None
    if exit_code < 0:
        return f"the worker was killed by signal {-exit_code} while the app ran"
    return f"the worker exited with code {exit_code} while the app ran"
