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
    """Make `path` if needed and prove that a file can be written there and that the disk has room.

    Raises OutputError with one sentence naming the directory and the fix.
    """
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".grader-probe-"):
            pass
        free = shutil.disk_usage(path).free
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
    if exc.errno in (errno.ENOTDIR, errno.EEXIST):
        return OutputError(f"{where} is in the way of the output directory: it is not a directory")
    return OutputError(f"cannot write to {where or 'the output directory'}: {exc.strerror or exc}: choose another "
                       "--out directory")


def as_output_error(exc: BaseException) -> OutputError | None:
    """`exc` as an OutputError when it says a disk is full or read-only (wherever it came from), else None.

    A bare permission error is not one: it may come from reading anything, not only from writing output.
    """
    if isinstance(exc, OutputError):
        return exc
    if isinstance(exc, OSError) and exc.errno in FULL_OR_READ_ONLY:
        return output_error(exc)
    return None


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
