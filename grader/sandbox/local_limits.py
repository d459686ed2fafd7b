"""The rlimits the local backend sets on the app and on the candidate's own tests (POSIX only).

`resource` is imported where used: the CLI, and this module, load on Windows, where the local backend is
refused before any limit is needed.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from grader.models import Limits

MIB = 1024 * 1024
# RLIMIT_AS caps *virtual* address space per process, which overcounts real memory use a lot: every
# thread reserves a stack (8 MiB), glibc reserves up to 64 MiB per malloc arena, and shared libraries
# are mapped whole. A cap equal to memory_mb would stop ordinary apps from starting, so allow 4x.
ADDRESS_SPACE_FACTOR = 4
CPU_HARD_GRACE_S = 5  # between SIGXCPU (soft limit) and SIGKILL (hard limit)


@dataclass(frozen=True)
class RLimit:
    """One rlimit to set in the app process (already clamped to the current hard limit)."""

    resource: int
    soft: int
    hard: int


def log_file_cap(limits: Limits) -> int:
    """RLIMIT_FSIZE: no file the app writes, its log included, grows past this many bytes."""
    return max(limits.data_mb * MIB, limits.log_bytes)


def app_rlimits(limits: Limits) -> list[RLimit]:
    """The rlimits for the app: address space, file size, processes, CPU time and no core dumps.

    macOS does not enforce RLIMIT_AS and refuses to lower it below what a process already maps, so
    there the memory limit is left out (the result says so).
    """
    import resource  # POSIX only: the local backend does not run on Windows

    cpu = math.ceil(limits.startup_timeout_s + limits.test_timeout_s)
    wanted: list[tuple[int, int, int | None]] = [] if sys.platform == "darwin" else [
        (resource.RLIMIT_AS, limits.memory_mb * MIB * ADDRESS_SPACE_FACTOR, None),
    ]
    wanted += [
        (resource.RLIMIT_FSIZE, log_file_cap(limits), None),
        (resource.RLIMIT_CPU, cpu, cpu + CPU_HARD_GRACE_S),
        (resource.RLIMIT_CORE, 0, None),
    ]
    running = _tasks_of_user(os.getuid())
    if running is not None:
        # RLIMIT_NPROC counts every task (process or thread) of the real user, not just the app's:
        # the app gets `pids` on top of what this user already runs. Root is exempt from it.
        wanted.append((resource.RLIMIT_NPROC, running + limits.pids, None))
    return [_clamped(kind, soft, hard) for kind, soft, hard in wanted]


def _clamped(kind: int, soft: int, hard: int | None) -> RLimit:
    import resource

    _current_soft, current_hard = resource.getrlimit(kind)
    hard = soft if hard is None else hard
    if current_hard != resource.RLIM_INFINITY:
        soft, hard = min(soft, current_hard), min(hard, current_hard)
    return RLimit(kind, soft, hard)


def _tasks_of_user(uid: int) -> int | None:
    """How many tasks (threads included) `uid` runs, from /proc; None where /proc is not there."""
    proc = Path("/proc")
    if not (proc / "self" / "status").exists():
        return None
    total = 0
    for entry in proc.iterdir():
        if entry.name.isdigit():
            total += _task_count(entry / "status", uid)
    return total


def _task_count(status_file: Path, uid: int) -> int:
    try:
        lines = status_file.read_text().splitlines()
    except OSError:
        return 0
    fields: dict[str, str] = {}
    for line in lines:
        name, _, value = line.partition(":")
        fields[name] = value
    if int(fields.get("Uid", "-1").split()[0]) != uid:
        return 0
    return int(fields.get("Threads", "1").strip())


def rlimit_setter(rlimits: Sequence[RLimit]) -> Callable[[], None]:
    """A function that sets `rlimits` in the process it runs in (a child, before exec)."""
    import resource

    def apply() -> None:  # runs in the forked child before exec: keep it to plain system calls
        for limit in rlimits:
            resource.setrlimit(limit.resource, (limit.soft, limit.hard))

    return apply
