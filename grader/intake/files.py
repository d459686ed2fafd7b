"""What a snapshot may hold and how its files are written: the limits, the refusals (`IntakeError`),
names and junk, and the writer that counts the bytes it really copies and hashes what it wrote.

Names with a leading underscore are private to the `grader.intake` package.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

_CHUNK = 1024 * 1024
# Open flags Windows lacks (0 there): it has no FIFOs and no O_NOFOLLOW, so links are refused by an
# explicit check instead; files are opened in binary mode (its default is text, which rewrites CRLF), and
# Python makes descriptors non-inheritable there anyway (PEP 446).
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_PORTABLE = _NOFOLLOW | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
_PORTABLE_READ = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | _PORTABLE
_PORTABLE_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _PORTABLE
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")
_JUNK_DIRS = frozenset(
    {
        ".git",
        "__pycache__",
        ".venv",
        "venv",
        "node_modules",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        "__MACOSX",  # resource forks that macOS Finder adds to every zip it makes
    }
)
_JUNK_FILES = frozenset({".DS_Store"})


@dataclass(frozen=True)
class IntakeLimits:
    """Caps on what one submission may hold, enforced on the bytes actually written."""

    max_total_bytes: int = 200 * 1024 * 1024
    max_files: int = 10_000
    max_file_bytes: int = 50 * 1024 * 1024


DEFAULT_LIMITS = IntakeLimits()


class IntakeError(Exception):
    """The grader refuses the submission; `str(exc)` is one sentence for the person who sent it."""


def read_candidate_bytes(path: Path, max_bytes: int) -> bytes | None:
    """Read a file from a submission without following a symlink or blocking on a FIFO.

    Returns None when the file does not exist. Raises IntakeError when it is a link, not a regular
    file, or larger than `max_bytes`.
    """
    if not _NOFOLLOW and path.is_symlink():
        raise IntakeError(f"{path.name} is a symlink, which the grader does not follow; replace it.")
    try:
        fd = os.open(path, _PORTABLE_READ)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise IntakeError(f"{path.name} is a symlink, which the grader does not follow; replace it.") from exc
        raise IntakeError(f"{path.name} could not be read ({exc.strerror}); check the file.") from exc
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise IntakeError(f"{path.name} is not a regular file; replace it with one.")
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise IntakeError(f"{path.name} is larger than {_human(max_bytes)}; make it smaller.")
    return data


# --- names and junk ---------------------------------------------------------------------------------


def _check_name(name: str) -> None:
    """Refuse names a person could not type or read back: control characters and undecodable bytes."""
    if _CONTROL_CHARS.search(name):
        raise IntakeError(f"The file name {name!r} contains control characters; rename it.")
    try:
        name.encode("utf-8")
    except UnicodeEncodeError as exc:  # surrogate escapes: the raw name was not UTF-8
        raise IntakeError(f"The file name {name!r} is not valid UTF-8; rename it.") from exc


def _is_junk_name(name: str, is_dir: bool) -> bool:
    if is_dir:
        return name in _JUNK_DIRS
    return name in _JUNK_FILES or name.endswith(".pyc") or name == ".git"  # .git is a file in worktrees


# --- writing ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Item:
    """One entry to write: a directory, or a file whose bytes come from `opener`."""

    path: PurePosixPath
    is_dir: bool
    executable: bool = False
    size: int = 0  # as declared by the source; only used to refuse early, never trusted
    opener: Callable[[], IO[bytes]] | None = None
    mtime: float | None = None  # the file's date as the source says (seconds since the epoch, UTC)


class _Writer:
    """Writes items under `root`, enforcing the limits on the bytes it really copies."""

    def __init__(self, root: Path, limits: IntakeLimits) -> None:
        self.root = root
        self.limits = limits
        self.files: dict[str, tuple[bool, str]] = {}  # posix path -> (executable, sha256 hex)
        self.total_bytes = 0
        self.newest_mtime: float | None = None  # the newest file date the source gave
        self._dirs: set[PurePosixPath] = set()

    def add_all(self, items: Iterable[_Item], strip: PurePosixPath | None = None) -> None:
        """Write every item, dropping the `strip` prefix (a lone top-level directory) from their paths."""
        for item in items:
            path = item.path
            if strip is not None:
                if path == strip:
                    continue
                path = path.relative_to(strip)
            if item.is_dir:
                self._make_dirs(path)
            else:
                self._write_file(path, item)

    def _make_dirs(self, path: PurePosixPath) -> None:
        missing = [p for p in (path, *path.parents) if p != PurePosixPath() and p not in self._dirs]
        for directory in reversed(missing):
            if len(self._dirs) >= self.limits.max_files:
                raise IntakeError(
                    f"The submission has more than {self.limits.max_files} directories; "
                    "remove generated or vendored files and submit again."
                )
            try:
                os.mkdir(self.root.joinpath(*directory.parts), 0o700)
            except FileExistsError:
                if not self.root.joinpath(*directory.parts).is_dir():
                    raise IntakeError(
                        f"{directory.as_posix()!r} is both a file and a directory in the submission; rename one."
                    ) from None
            except OSError as exc:
                raise IntakeError(
                    f"{directory.as_posix()!r} cannot be created in the snapshot ({exc.strerror}); rename it."
                ) from exc
            self._dirs.add(directory)

    def _write_file(self, path: PurePosixPath, item: _Item) -> None:
        rel = path.as_posix()
        self._check_declared(rel, item.size)
        self._make_dirs(path.parent)
        target = self.root.joinpath(*path.parts)
        try:
            fd = os.open(target, _PORTABLE_CREATE, 0o600)
        except FileExistsError:
            raise IntakeError(
                f"{rel!r} appears more than once in the submission (perhaps through a symlink); keep one copy."
            ) from None
        except OSError as exc:
            raise IntakeError(f"{rel!r} cannot be created in the snapshot ({exc.strerror}); rename it.") from exc
        assert item.opener is not None, "file items always carry an opener"
        with os.fdopen(fd, "wb") as out:
            digest = self._copy(rel, item.opener, out)
        os.chmod(target, 0o555 if item.executable else 0o444)
        self.files[rel] = (item.executable, digest)
        if item.mtime is not None and (self.newest_mtime is None or item.mtime > self.newest_mtime):
            self.newest_mtime = item.mtime

    def _check_declared(self, rel: str, size: int) -> None:
        """Refuse early on what the source claims, before reading: cheap, though not sufficient."""
        if len(self.files) >= self.limits.max_files:
            raise IntakeError(
                f"The submission has more than {self.limits.max_files} files; "
                "remove generated or vendored files and submit again."
            )
        if size > self.limits.max_file_bytes:
            raise self._file_too_big(rel)
        if self.total_bytes + size > self.limits.max_total_bytes:
            raise self._total_too_big()

    def _copy(self, rel: str, opener: Callable[[], IO[bytes]], out: IO[bytes]) -> str:
        digest = hashlib.sha256()
        written = 0
        for chunk in _read_chunks(rel, opener):
            written += len(chunk)
            self.total_bytes += len(chunk)
            # Checked before the chunk is written: a lying header never gets past the cap.
            if written > self.limits.max_file_bytes:
                raise self._file_too_big(rel)
            if self.total_bytes > self.limits.max_total_bytes:
                raise self._total_too_big()
            digest.update(chunk)
            out.write(chunk)
        return digest.hexdigest()

    def _file_too_big(self, rel: str) -> IntakeError:
        return IntakeError(
            f"{rel!r} is larger than the {_human(self.limits.max_file_bytes)} limit for one file; "
            "remove it from the submission."
        )

    def _total_too_big(self) -> IntakeError:
        return IntakeError(
            f"The submission is larger than the {_human(self.limits.max_total_bytes)} limit; "
            "remove data or generated files and submit again."
        )

    def seal(self) -> None:
        """Make every directory read-only (files already are), deepest first."""
        for directory in sorted(self._dirs, key=lambda p: len(p.parts), reverse=True):
            os.chmod(self.root.joinpath(*directory.parts), 0o555)
        os.chmod(self.root, 0o555)

    def content_hash(self) -> str:
        """The hash of what was written; see `_hash_entries`."""
        return _hash_entries(self.files)


def _read_chunks(rel: str, opener: Callable[[], IO[bytes]]) -> Iterator[bytes]:
    """The source file's bytes in chunks; a failure to read the submission becomes an IntakeError.

    Only reading is wrapped: an error writing the snapshot (a full disk) is the host's, not the candidate's.
    """
    try:
        with opener() as source:
            while chunk := source.read(_CHUNK):
                yield chunk
    except (OSError, EOFError, zlib.error, zipfile.BadZipFile, tarfile.TarError, RuntimeError) as exc:
        raise IntakeError(f"{rel!r} could not be read from the submission ({_reason(exc)}); check the file.") from exc


def _hash_entries(files: dict[str, tuple[bool, str]]) -> str:
    """sha256 over the sorted (path, executable, sha256 of bytes) list: order and timestamps do not count."""
    listing = sorted([path, executable, digest] for path, (executable, digest) in files.items())
    payload = json.dumps(listing, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return "sha256:" + hashlib.sha256(payload).hexdigest()


def _hash_existing(root: Path) -> str | None:
    """The content hash of an existing snapshot, or None when it is not one we could have written."""
    files: dict[str, tuple[bool, str]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in (*dirnames, *filenames):
            if os.path.islink(os.path.join(dirpath, name)):
                return None
        for name in filenames:
            full = os.path.join(dirpath, name)
            digest = hashlib.sha256()
            with open(full, "rb") as handle:
                while chunk := handle.read(_CHUNK):
                    digest.update(chunk)
            rel = PurePosixPath(Path(full).relative_to(root)).as_posix()
            files[rel] = (bool(os.stat(full).st_mode & 0o111), digest.hexdigest())
    return _hash_entries(files)


def _remove_tree(path: Path) -> None:
    """Delete a tree we wrote, read-only directories included."""
    if not os.path.lexists(path):
        return
    for dirpath, _dirnames, _filenames in os.walk(path):
        os.chmod(dirpath, 0o700)  # top-down: each directory is writable before its entries are removed
    shutil.rmtree(path)


def _reason(exc: BaseException) -> str:
    """A library's error as a short clause that fits inside one sentence."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    text = text.rstrip(":. ")
    return text if len(text) <= 120 else text[:117] + "..."


def _human(size: int) -> str:
    if size >= 1024 * 1024 and size % (1024 * 1024) == 0:
        return f"{size // (1024 * 1024)} MiB"
    return f"{size} bytes"


def _special_file(rel: str) -> IntakeError:
    return IntakeError(f"{rel!r} is a device, FIFO or socket, which a submission may not contain; remove it.")


def _escaping_link(rel: str, target: str) -> IntakeError:
    return IntakeError(
        f"The link {rel!r} points outside the submission (to {target!r}); replace it with the file itself."
    )


def _looping_link(rel: str) -> IntakeError:
    return IntakeError(f"The symlink {rel!r} points to a directory that contains it, which loops; remove it.")
