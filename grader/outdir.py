"""The output directory (`--out`): checked before any grading starts, and disk errors while writing.

A directory the grader cannot write (permissions, a read-only file system) or one on a nearly full disk
is refused up front with one sentence, instead of failing after minutes of grading. A disk that fills up
while results are written is turned into the same kind of sentence (`OutputError`), which stops a batch:
every further grading would fail to write as well.
"""

from __future__ import annotations

import contextlib
import errno
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from grader.paths import cache_root

MIN_FREE_BYTES = 100 * 1024 * 1024  # a result with its reports is well under 1 MB: room for a large cohort
MB = 1024 * 1024
FULL_OR_READ_ONLY = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS})  # no write anywhere there succeeds
WRITE_ERRNOS = FULL_OR_READ_ONLY | {errno.EACCES, errno.EPERM}  # met while writing output: said in one sentence


class OutputError(Exception):
    """The output cannot be written where it was asked to go; the message says why and what to do."""


def check_output_dir(path: Path) -> None:
    """Prove that files can be written at `path` and that its disk has room, creating nothing.

    Probes `path`, or the nearest existing directory above it (where it would be made), with a temporary
    file. Raises OutputError with one sentence naming the directory and the fix.
    """
    try:
        existing = path.absolute()
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        if not existing.is_dir():
            raise OutputError(f"{existing} is a file, in the way of the output directory {path}: choose another "
                              "--out")
        with tempfile.NamedTemporaryFile(dir=existing, prefix=".grader-probe-"):
            pass
        free = shutil.disk_usage(existing).free
    except OSError as exc:
        raise output_error(exc, path) from None
    if free < MIN_FREE_BYTES:
        raise OutputError(f"the output directory {path} has only {free / MB:.0f} MB free and grading needs at "
                          f"least {MIN_FREE_BYTES / MB:.0f} MB: free some space or choose another --out")


def output_error(exc: OSError, path: Path | str | None = None) -> OutputError:
    """One sentence for an OSError met while making or writing output at `path` (else the error's file)."""
    where = path or exc.filename
    if exc.errno == errno.EROFS:
        return OutputError(f"{where or 'a directory the grader writes to'} is on a read-only file system: "
                           "choose a writable --out directory")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return OutputError(f"{where or 'a directory the grader writes to'} is not writable by this user: choose "
                           "another --out directory or change its permissions")
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        disk = (f"the disk holding {where}" if where else
                f"a disk the grader writes to (--out, or the cache in {cache_root()})")
        return OutputError(f"{disk} is full: free some space or choose another --out directory, then run again "
                           "(finished results are kept)")
    return OutputError(f"cannot write to {where or 'the output directory'}: {exc.strerror or exc}: choose another "
                       "--out directory")


def as_output_error(exc: BaseException, *places: Path) -> OutputError | None:
    """`exc` as an OutputError when it says a disk is full or read-only (wherever it came from), else None.

    A full disk is named by the error's file, else by the first of `places` (the output directory, then
    the cache) whose disk has no room left. A bare permission error is not one: it may come from reading
    anything, not only from writing output.
    """
    if isinstance(exc, OutputError):
        return exc
    if not isinstance(exc, OSError) or exc.errno not in FULL_OR_READ_ONLY:
        return None
    full = None
    if exc.filename is None and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        full = next((place for place in (*places, cache_root()) if _no_room(place)), None)
    return output_error(exc, full)


def _no_room(place: Path) -> bool:
    try:
        return shutil.disk_usage(place).free < MB
    except OSError:
        return False


@contextlib.contextmanager
def writing_output(path: Path) -> Iterator[None]:
    """Turn a disk error raised in the block, which writes `path`, into an OutputError naming it (other
    errors pass)."""
    try:
        yield
    except OSError as exc:
        if exc.errno not in WRITE_ERRNOS:
            raise
        raise output_error(exc, path) from exc


def result_dir(out_root: Path, name: str) -> Path:
    """`out_root/<name>`, one submission's output, created on demand (a full or read-only disk raises
    OutputError)."""
    path = out_root / name
    with writing_output(path):
        path.mkdir(parents=True, exist_ok=True)
    return path
