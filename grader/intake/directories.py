"""Directory submissions: walked without following links out of the submission, junk and virtualenvs
left out, symlinks inside it copied as their targets.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from functools import partial
from pathlib import Path, PurePosixPath
from typing import IO

from grader.intake.files import (
    _JUNK_DIRS,
    _NOFOLLOW,
    _PORTABLE_READ,
    IntakeError,
    _check_name,
    _escaping_link,
    _is_junk_name,
    _Item,
    _looping_link,
    _special_file,
)


def _open_regular(path: str) -> IO[bytes]:
    """Open a file for reading, refusing a symlink or special file swapped in after it was checked."""
    if not _NOFOLLOW and os.path.islink(path):
        raise OSError(errno.ELOOP, "a symlink")
    fd = os.open(path, _PORTABLE_READ)
    handle = os.fdopen(fd, "rb")
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        handle.close()
        raise OSError(errno.EINVAL, "not a regular file")
    return handle


def _is_virtualenv(path: str) -> bool:
    return os.path.lexists(os.path.join(path, "pyvenv.cfg"))


def _walk_directory(source: Path, excluded: set[str]) -> Iterator[_Item]:
    root = os.path.realpath(source)
    yield from _walk_dir(root, root, PurePosixPath(), (root,), excluded)


def _walk_dir(
    root: str, directory: str, rel: PurePosixPath, stack: tuple[str, ...], excluded: set[str]
) -> Iterator[_Item]:
    """Yield the items under `directory`; `stack` holds the real paths being walked, to catch loops."""
    try:
        entries = sorted(os.scandir(directory), key=lambda entry: entry.name)
    except OSError as exc:
        raise IntakeError(f"The directory {rel.as_posix() or '.'!r} could not be listed ({exc.strerror}).") from exc
    for entry in entries:
        _check_name(entry.name)
        entry_rel = rel / entry.name
        if entry.is_symlink():
            yield from _walk_symlink(root, entry, entry_rel, stack, excluded)
        elif entry.is_dir(follow_symlinks=False):
            if _is_junk_name(entry.name, True) or _is_virtualenv(entry.path) or entry.path in excluded:
                continue
            yield _Item(entry_rel, True)
            yield from _walk_dir(root, entry.path, entry_rel, (*stack, entry.path), excluded)
        elif entry.is_file(follow_symlinks=False):
            if not _is_junk_name(entry.name, False):
                info = entry.stat(follow_symlinks=False)
                yield _Item(
                    entry_rel, False, bool(info.st_mode & 0o111), info.st_size, partial(_open_regular, entry.path),
                    info.st_mtime,
                )
        else:
            raise _special_file(entry_rel.as_posix())


def _walk_symlink(
    root: str, entry: os.DirEntry[str], rel: PurePosixPath, stack: tuple[str, ...], excluded: set[str]
) -> Iterator[_Item]:
    """Materialize a symlink as a copy of its target, which must lie inside the submission."""
    # Junk is skipped before its target is looked at: a committed .venv links to the host's python.
    if _is_junk_name(entry.name, False) or entry.name in _JUNK_DIRS:
        return
    real = os.path.realpath(entry.path)
    if real != root and not real.startswith(root + os.sep):
        raise _escaping_link(rel.as_posix(), os.readlink(entry.path))
    try:
        info = os.stat(real)
    except FileNotFoundError:
        return  # dangling but harmless: there is nothing to copy
    except OSError as exc:
        raise IntakeError(f"The symlink {rel.as_posix()!r} cannot be followed ({exc.strerror}); remove it.") from exc
    if stat.S_ISDIR(info.st_mode):
        if real in stack:
            raise _looping_link(rel.as_posix())
        if _is_virtualenv(real) or real in excluded:
            return
        yield _Item(rel, True)
        yield from _walk_dir(root, real, rel, (*stack, real), excluded)
    elif stat.S_ISREG(info.st_mode):
        yield _Item(rel, False, bool(info.st_mode & 0o111), info.st_size, partial(_open_regular, real),
                    info.st_mtime)
    else:
        raise _special_file(rel.as_posix())
