"""Exclusive locks shared by every thread and grader process on this host, on Linux, macOS and Windows.

One implementation for every lock the grader takes (wheel sets, source builds, images, venvs, mypy
seeds), built on `filelock`: `flock` on Unix, `LockFileEx` on Windows. Lock files live under
`cache_dir("locks")` and are never removed while in use, so every waiter locks the same file.
(`grader.locks` is something else: it reads the dependency lock files of submissions.)
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

from filelock import FileLock, Timeout

from grader.paths import cache_dir, cache_root


def lock_path(name: str) -> Path:
    """Where the lock called `name` lives (its directory is made on demand)."""
    return cache_dir("locks") / f"{name}.lock"


@contextlib.contextmanager
def file_lock(name: str, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold the exclusive lock `name` for the block.

    Every call takes a lock object of its own, so two threads of one process exclude each other as two
    processes do. `on_wait` runs once, before waiting, when another holder has the lock right now.
    """
    lock = FileLock(str(lock_path(name)))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        if on_wait is not None:
            on_wait()
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


def lock_is_free(name: str) -> bool:
    """Whether nobody holds the lock `name` right now (pruning skips cache entries in use)."""
    path = cache_root() / "locks" / f"{name}.lock"
    if not path.exists():
        return True
    lock = FileLock(str(path))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return False
    lock.release()
    return True
