"""Take a read-only, content-addressed snapshot of a submission: a directory, a zip, a tar or a git checkout.

Everything a candidate sends is hostile input. Every archive member and directory entry is checked before
a byte is written, sizes are counted while bytes are copied (archive headers can lie), and the snapshot
holds only regular files and directories, so it can be bind-mounted read-only into a sandbox without
anything in it pointing back at the host.

The snapshot also carries hints about its files for the report (`Snapshot.findings`): a docker-compose file
that names a database or cache, which the grader starts only when the challenge declares it (`compose_hints`).
"""

from __future__ import annotations

import errno
import hashlib
import json
import lzma
import os
import re
import shutil
import stat
import tarfile
import tempfile
import unicodedata
import uuid
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path, PurePosixPath
from typing import IO, Literal

from grader.models import Finding, Severity
from grader.processes import OutputTooLarge, TimedOut, copy_output
from grader.processes import run as run_process

SourceKind = Literal["directory", "zip", "tar", "git"]
ArchiveKind = Literal["zip", "tar"]

# Archives the intake reads (tarfile detects the compression itself), recognised by content first: the
# extensions matter for a damaged archive (still sent to the intake, which says what is wrong with it) and
# for stripping from a submission's name.
ZIP_SUFFIXES = (".zip",)
TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tbz", ".tar.xz", ".txz")
READABLE_ARCHIVES = "zip and tar archives (gz, bz2, xz)"
# Archives people send that the standard library does not read: by their first bytes, then by extension.
_COMPRESSED_ALONE = "file that holds no tar archive"
_UNREADABLE_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7z archive"),
    (b"\x28\xb5\x2f\xfd", "a Zstandard-compressed file"),
    (b"\x1f\x8b", f"a gzip-compressed {_COMPRESSED_ALONE}"),
    (b"\xfd7zXZ\x00", f"an xz-compressed {_COMPRESSED_ALONE}"),
    *((b"BZh" + bytes([level]), f"a bzip2-compressed {_COMPRESSED_ALONE}") for level in b"123456789"),
)
_UNREADABLE_SUFFIXES: tuple[tuple[str, str], ...] = (
    (".rar", "a RAR archive"),
    (".7z", "a 7z archive"),
    (".zst", "a Zstandard-compressed file"),
    (".tzst", "a Zstandard-compressed file"),
    (".lz", "an lzip-compressed file"),
    (".lzma", "an LZMA-compressed file"),
    (".cab", "a CAB archive"),
    (".arj", "an ARJ archive"),
)

_CHUNK = 1024 * 1024
_GIT_TIMEOUT_S = 300
# Symlink chains longer than this are treated as loops, as the kernel does with ELOOP.
_MAX_LINK_HOPS = 40
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


@dataclass(frozen=True)
class Snapshot:
    """A read-only copy of a submission under `path`, named and identified by its content hash."""

    name: str
    source: Path
    source_kind: SourceKind
    path: Path
    content_hash: str
    file_count: int
    total_bytes: int
    revision: str | None = None
    # The date the work was done: the HEAD commit's (git), else the newest file's, as the source says.
    dated: datetime | None = None
    dated_by: str = "none"
    # INFO findings about the submission's files, for the report (see `compose_hints`); never a refusal.
    findings: tuple[Finding, ...] = field(default=(), hash=False)


class IntakeError(Exception):
    """The grader refuses the submission; `str(exc)` is one sentence for the person who sent it."""


# --- public API -------------------------------------------------------------------------------------


def take_snapshot(source: Path, dest_root: Path, limits: IntakeLimits = DEFAULT_LIMITS) -> Snapshot:
    """Copy `source` into `dest_root/<name>-<hash[:12]>` as a read-only tree and describe it.

    Raises IntakeError when the submission is unsafe, too big, unreadable or holds no Python file; in
    that case nothing is left behind under `dest_root`.
    """
    kind = _source_kind(source)
    name = submission_name(source)
    dest_root.mkdir(parents=True, exist_ok=True)
    # Built beside its final place so the closing rename is atomic and never crosses a filesystem.
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-", suffix=".partial", dir=dest_root))
    try:
        writer = _Writer(staging, limits)
        revision = _fill(kind, source, writer, dest_root, limits)
        if not any(path.endswith(".py") for path in writer.files):
            raise IntakeError(f"No Python file was found in {source}; submit the project's source code.")
        writer.seal()
        content_hash = writer.content_hash()
        final = dest_root / f"{name}-{content_hash.removeprefix('sha256:')[:12]}"
        path = _publish(staging, final, content_hash)
    finally:
        _remove_tree(staging)  # gone already when it was renamed into place
    findings = compose_hints(path)
    dated = datetime.fromtimestamp(writer.newest_mtime, UTC) if writer.newest_mtime is not None else None
    return Snapshot(
        name=name,
        source=Path(os.path.abspath(source)),
        source_kind=kind,
        path=path,
        content_hash=content_hash,
        file_count=len(writer.files),
        total_bytes=writer.total_bytes,
        revision=revision,
        dated=dated,
        dated_by="HEAD commit date" if kind == "git" else "newest file date",
        findings=findings,
    )


def submission_name(source: Path) -> str:
    """A file-system-safe name for a submission: the directory name or the archive's stem."""
    name = os.path.basename(os.path.normpath(os.path.abspath(source)))
    if not source.is_dir():
        lower = name.lower()
        for suffix in sorted((*TAR_SUFFIXES, *ZIP_SUFFIXES), key=len, reverse=True):
            if lower.endswith(suffix):
                name = name[: -len(suffix)]
                break
    # Fold accents to ASCII first so "józef" becomes "jozef" rather than "j-zef".
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", ascii_name).strip(".-")
    # A leading dot would hide the snapshot and ".." would escape dest_root, hence the strip.
    return cleaned[:64].rstrip(".-") or "submission"


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


# --- hints: compose services -----------------------------------------------------------------------

# The names `docker compose` looks for, in its order of preference.
COMPOSE_FILES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")
_MAX_COMPOSE_BYTES = 256 * 1024
# Words in an image or service name for the backing services candidates most often run beside the app.
_BACKING_WORD = re.compile("postgres|postgis|redis|valkey")
# A block-style mapping key, optionally quoted, and what follows its colon.
_YAML_KEY = re.compile(r"""^(?P<quote>["']?)(?P<key>[A-Za-z0-9._-]+)(?P=quote)\s*:(?:\s+(?P<value>.*))?$""")
_YAML_COMMENT = re.compile(r"(^|\s)#.*$")


@dataclass
class _ComposeService:
    """One entry under a compose file's `services:` key."""

    name: str
    line: int
    image: str | None = None


def compose_hints(project_dir: Path) -> tuple[Finding, ...]:
    """INFO findings for compose services at the project's top level that name postgres/postgis/redis/valkey.

    The grader never runs docker compose: it starts the app and only the services the challenge declares
    (intake does not know the challenge, so the hint says so rather than judging). A compose file that
    cannot be read or parsed gives no finding: it is only ever a hint, and never stops intake.
    """
    findings: list[Finding] = []
    for name in COMPOSE_FILES:
        try:
            data = read_candidate_bytes(project_dir / name, _MAX_COMPOSE_BYTES)
        except (IntakeError, OSError):
            continue
        if data is not None:
            findings.extend(_compose_finding(name, service, word) for service, word in _backing_services(data))
    return tuple(findings)


def _backing_services(data: bytes) -> Iterator[tuple[_ComposeService, str]]:
    """Each service whose image (or, without a match there, its name) names a backing service, with the word."""
    for service in _compose_services(data.decode("utf-8-sig", "replace")):
        image = (service.image or "").lower().split("@")[0]  # a digest is hex: it could spell nothing useful
        match = _BACKING_WORD.search(image) or _BACKING_WORD.search(service.name.lower())
        if match is not None:
            yield service, match.group(0)


def _compose_finding(file: str, service: _ComposeService, word: str) -> Finding:
    """The hint for one service: what the compose file names, and that the challenge decides what runs."""
    image = f", image {_clip(service.image)}" if service.image else ""
    return Finding(
        message=(
            f"{file} names {word} (service {_clip(service.name)}{image}), but the grader never runs compose files: "
            "the challenge decides which services it starts, so this one is not started unless the challenge "
            "declares it."
        ),
        file=file,
        line=service.line,
        severity=Severity.INFO,
        rule="intake.compose-service",
    )


def _compose_services(text: str) -> list[_ComposeService]:
    """The services under the top-level `services:` key, read line by line from block-style YAML.

    Not a YAML parser (the grader has none at run time): it reads the shape every compose file is written
    in, `services:` at column 0, one key per service, `image:` inside it. Anything else yields nothing.
    """
    services: list[_ComposeService] = []
    inside, child_indent = False, 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = _YAML_COMMENT.sub("", raw).rstrip()
        content = line.lstrip(" ")
        indent = len(line) - len(content)
        if not content or content.startswith(("---", "...")):
            continue
        if indent == 0:
            inside, child_indent = re.fullmatch(r"services\s*:", content) is not None, 0
            continue
        key = _YAML_KEY.match(content) if inside else None
        if key is None:
            continue
        if child_indent == 0 or indent <= child_indent:
            child_indent = indent
            services.append(_ComposeService(key.group("key"), number))
        elif key.group("key") == "image" and key.group("value") and services[-1].image is None:
            services[-1].image = key.group("value").strip().strip("\"'")
    return services


def _clip(text: str) -> str:
    """A candidate's name or image, printable and short enough for one sentence."""
    text = _CONTROL_CHARS.sub("?", text)
    return text if len(text) <= 60 else text[:57] + "..."


# --- source kinds -----------------------------------------------------------------------------------


def _source_kind(source: Path) -> SourceKind:
    if source.is_dir():
        return "git" if (source / ".git").exists() else "directory"
    if not source.exists():
        raise IntakeError(
            f"{source} does not exist; pass a project directory, a zip or tar archive, or a git checkout."
        )
    kind = archive_kind(source)
    if kind is not None:
        return kind
    what = unreadable_format(source)
    if what is not None:
        raise IntakeError(f"{source.name} is {what}: the grader reads {READABLE_ARCHIVES}; repack it as .zip.")
    raise IntakeError(
        f"{source} is not a directory, a zip or tar archive (plain, gz, bz2 or xz) or a git checkout; "
        "pass the submission in one of those forms."
    )


# --- archive formats ---------------------------------------------------------------------------------


def archive_kind(path: Path) -> ArchiveKind | None:
    """How the intake reads the file at `path`: as a tar (plain, gz, bz2 or xz) or a zip, by its content.

    A file whose content reads as neither but whose extension names one (`.zip`, `.tar.xz`, ...) still
    counts as that kind, so a damaged archive reaches the intake, which says what is wrong with it. Anything
    else (a directory, a device, a RAR file, a text file) is None. Only the first blocks are read.
    """
    if not path.is_file():
        return None
    try:
        if tarfile.is_tarfile(path):  # first: a plain tar may end with a zip member's central directory
            return "tar"
        if zipfile.is_zipfile(path):
            return "zip"
    except (OSError, EOFError, zlib.error, lzma.LZMAError, ValueError):
        pass  # unreadable content: the extension decides below
    lower = path.name.lower()
    if lower.endswith(ZIP_SUFFIXES):
        return "zip"
    if lower.endswith(TAR_SUFFIXES):
        return "tar"
    return None


def unreadable_format(path: Path) -> str | None:
    """`a RAR archive`, `a 7z archive`, ...: what `path` is when it is an archive the grader cannot read.

    Judged by its first bytes, else by its extension; None for a file that is no archive at all (and for
    one the grader reads: ask `archive_kind` first).
    """
    try:
        with path.open("rb") as handle:
            head = handle.read(8)
    except OSError:
        head = b""
    for magic, what in _UNREADABLE_MAGIC:
        if head.startswith(magic):
            return what
    lower = path.name.lower()
    return next((what for suffix, what in _UNREADABLE_SUFFIXES if lower.endswith(suffix)), None)


def _fill(kind: SourceKind, source: Path, writer: _Writer, work_root: Path, limits: IntakeLimits) -> str | None:
    """Write the submission's files through `writer`; returns the git revision for git sources."""
    if kind == "directory":
        excluded = {os.path.realpath(work_root)}  # never copy our own output when it lives inside the source
        writer.add_all(_walk_directory(source, excluded))
        return None
    if kind == "zip":
        _fill_from_zip(source, writer, limits)
        return None
    if kind == "tar":
        _fill_from_tar(source, writer, limits)
        return None
    with tempfile.TemporaryDirectory(prefix=".git-", dir=work_root) as work:
        archive, revision = _git_head_archive(source, Path(work), limits)
        _fill_from_tar(archive, writer, limits)
    return revision


# --- names and junk ---------------------------------------------------------------------------------


def _check_name(name: str) -> None:
    """Refuse names a person could not type or read back: control characters and undecodable bytes."""
    if _CONTROL_CHARS.search(name):
        raise IntakeError(f"The file name {name!r} contains control characters; rename it.")
    try:
        name.encode("utf-8")
    except UnicodeEncodeError as exc:  # surrogate escapes: the raw name was not UTF-8
        raise IntakeError(f"The file name {name!r} is not valid UTF-8; rename it.") from exc


def _member_path(raw: str) -> PurePosixPath | None:
    """The safe relative path of an archive member, or None for the archive root itself."""
    _check_name(raw)
    # Windows tools sometimes write backslashes; treat them as separators so "..\\x" is caught too.
    name = raw.replace("\\", "/")
    if name.startswith("/") or re.match(r"^[A-Za-z]:/", name):
        raise IntakeError(f"The archive member {raw!r} has an absolute path; repack it with relative paths.")
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise IntakeError(
            f"The archive member {raw!r} contains '..', which would write outside the project; repack without it."
        )
    return PurePosixPath(*parts) if parts else None


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


def _publish(staging: Path, final: Path, content_hash: str) -> Path:
    """Rename the finished tree into place, or reuse an identical snapshot that is already there."""
    try:
        os.rename(staging, final)
        return final
    except OSError as exc:
        if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
            raise
    if _hash_existing(final) == content_hash:
        return final
    # Same name, different content: a damaged copy or a 48-bit prefix collision. Replace it atomically.
    stale = final.with_name(f".{final.name}.stale-{uuid.uuid4().hex[:8]}")
    os.rename(final, stale)
    os.rename(staging, final)
    _remove_tree(stale)
    return final


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


# --- directory sources ------------------------------------------------------------------------------


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


def _special_file(rel: str) -> IntakeError:
    return IntakeError(f"{rel!r} is a device, FIFO or socket, which a submission may not contain; remove it.")


def _escaping_link(rel: str, target: str) -> IntakeError:
    return IntakeError(
        f"The link {rel!r} points outside the submission (to {target!r}); replace it with the file itself."
    )


def _looping_link(rel: str) -> IntakeError:
    return IntakeError(f"The symlink {rel!r} points to a directory that contains it, which loops; remove it.")


# --- archives ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Member:
    """An archive entry after its name was checked; links are resolved later, against all members."""

    path: PurePosixPath
    kind: Literal["file", "dir", "symlink", "hardlink"]
    executable: bool = False
    size: int = 0
    target: str = ""
    opener: Callable[[], IO[bytes]] | None = None
    mtime: float | None = None


class _ArchiveCounter:
    """Stops reading an archive whose raw listing is absurd, before junk filtering could matter.

    The real caps apply to what is written; these generous ones (ten times as much) only keep a hostile
    archive from making the grader list or decompress gigabytes of entries it would skip anyway.
    """

    def __init__(self, limits: IntakeLimits) -> None:
        self.max_entries = max(limits.max_files * 10, 1000)
        self.max_bytes = limits.max_total_bytes * 10
        self.entries = 0
        self.bytes = 0

    def count(self, size: int) -> None:
        self.entries += 1
        self.bytes += max(size, 0)
        if self.entries > self.max_entries:
            raise IntakeError(
                f"The archive has more than {self.max_entries} entries; remove generated or vendored files."
            )
        if self.bytes > self.max_bytes:
            raise IntakeError(
                f"The archive unpacks to more than {_human(self.max_bytes)}; remove data or generated files."
            )


def _fill_from_zip(source: Path, writer: _Writer, limits: IntakeLimits) -> None:
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
        raise _unreadable_archive(source, "zip", exc) from exc
    with archive:
        try:
            members = _zip_members(archive, limits)
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, OSError) as exc:
            raise _unreadable_archive(source, "zip", exc) from exc
        _write_archive(members, writer)


def _unreadable_archive(source: Path, kind: str, exc: BaseException) -> IntakeError:
    return IntakeError(f"{source.name} is not a readable {kind} archive ({_reason(exc)}); create it again.")


def _zip_members(archive: zipfile.ZipFile, limits: IntakeLimits) -> list[_Member]:
    counter = _ArchiveCounter(limits)
    members: list[_Member] = []
    for info in archive.infolist():
        counter.count(info.file_size)
        path = _member_path(info.filename)
        if path is None:
            continue
        if info.flag_bits & 0x1:
            raise IntakeError(f"The archive member {info.filename!r} is encrypted; send an unencrypted archive.")
        # Unix permissions live in the high half of external_attr, but only when a Unix tool wrote them.
        mode = info.external_attr >> 16 if info.create_system == 3 else 0
        kind = stat.S_IFMT(mode)
        if info.is_dir() or kind == stat.S_IFDIR:
            members.append(_Member(path, "dir"))
        elif kind == stat.S_IFLNK:
            with archive.open(info) as link:  # read only a path's worth: the entry may be a bomb
                target = link.read(4096).decode("utf-8", "surrogateescape")
            members.append(_Member(path, "symlink", target=target))
        elif kind in (0, stat.S_IFREG):
            opener = partial(archive.open, info)
            members.append(_Member(path, "file", bool(mode & 0o111), info.file_size, opener=opener,
                                   mtime=_zip_time(info)))
        else:
            raise _special_file(info.filename)
    return members


def _zip_time(info: zipfile.ZipInfo) -> float | None:
    """A zip entry's date (zip stores local time without a zone: read as UTC, close enough for a day)."""
    try:
        return datetime(*info.date_time, tzinfo=UTC).timestamp()
    except ValueError:
        return None


def _fill_from_tar(source: Path, writer: _Writer, limits: IntakeLimits) -> None:
    try:
        archive = tarfile.open(source, mode="r:*")  # noqa: SIM115 - closed by the with-block below
    except (tarfile.TarError, zlib.error, EOFError, OSError) as exc:
        raise _unreadable_archive(source, "tar", exc) from exc
    with archive:
        try:
            members = _tar_members(archive, limits)
        except (tarfile.TarError, zlib.error, EOFError, OSError) as exc:
            raise _unreadable_archive(source, "tar", exc) from exc
        _write_archive(members, writer)


def _tar_members(archive: tarfile.TarFile, limits: IntakeLimits) -> list[_Member]:
    counter = _ArchiveCounter(limits)
    members: list[_Member] = []
    # Iterating (not getmembers) so an absurd archive is refused before all of it is decompressed.
    for info in archive:
        counter.count(info.size if info.isreg() else 0)
        path = _member_path(info.name)
        if path is None:
            continue
        if info.isdir():
            members.append(_Member(path, "dir"))
        elif info.isreg():
            opener = partial(_tar_open, archive, info)
            members.append(_Member(path, "file", bool(info.mode & 0o111), info.size, opener=opener,
                                   mtime=float(info.mtime)))
        elif info.issym():
            members.append(_Member(path, "symlink", target=info.linkname))
        elif info.islnk():
            members.append(_Member(path, "hardlink", target=info.linkname))
        elif info.ischr() or info.isblk() or info.isfifo():
            raise _special_file(info.name)
        else:
            raise IntakeError(f"The archive member {info.name!r} has an unsupported type; repack the archive.")
    return members


def _tar_open(archive: tarfile.TarFile, info: tarfile.TarInfo) -> IO[bytes]:
    handle = archive.extractfile(info)
    if handle is None:
        raise OSError(errno.EINVAL, f"{info.name} has no data")
    return handle


def _write_archive(members: list[_Member], writer: _Writer) -> None:
    """Drop junk, resolve links into copies, strip a lone top-level directory, and write the rest."""
    kept = _drop_junk(members)
    tree = _ArchiveTree(kept)
    writer.add_all(tree.items(), strip=_lone_top_directory(kept))


def _drop_junk(members: list[_Member]) -> dict[PurePosixPath, _Member]:
    # A pyvenv.cfg at the root means the project itself was made a venv: keep it, drop only nested ones.
    virtualenvs = {m.path.parent for m in members if m.path.name == "pyvenv.cfg" and len(m.path.parts) > 1}
    kept: dict[PurePosixPath, _Member] = {}
    for member in members:
        parents = member.path.parents
        if any(_is_junk_name(part, True) for part in member.path.parts[:-1]):
            continue
        if _is_junk_name(member.path.name, member.kind == "dir" or member.path.name in _JUNK_DIRS):
            continue
        if member.path in virtualenvs or any(parent in virtualenvs for parent in parents):
            continue
        kept[member.path] = member  # a repeated name replaces the earlier entry, as extraction would
    return kept


def _lone_top_directory(members: dict[PurePosixPath, _Member]) -> PurePosixPath | None:
    """The single top-level directory that holds everything (GitHub's zip layout), if there is one."""
    tops = {PurePosixPath(path.parts[0]) for path in members}
    if len(tops) != 1:
        return None
    (top,) = tops
    top_member = members.get(top)
    if top_member is not None and top_member.kind != "dir":
        return None
    return top if any(len(path.parts) > 1 for path in members) else None


class _ArchiveTree:
    """Resolves archive links the way a file system would, but only within the archive."""

    def __init__(self, members: dict[PurePosixPath, _Member]) -> None:
        self.members = members
        self.directories = {path for path, member in members.items() if member.kind == "dir"}
        for path in members:
            self.directories.update(path.parents)

    def items(self) -> Iterator[_Item]:
        """Every member as a directory or file item, links materialized as copies."""
        for path in sorted(self.members):
            yield from self._materialize(path, path, ())

    def _materialize(self, out: PurePosixPath, src: PurePosixPath, stack: tuple[PurePosixPath, ...]) -> Iterator[_Item]:
        member = self.members[src]
        if member.kind == "dir":
            yield _Item(out, True)
        elif member.kind == "file":
            yield _Item(out, False, member.executable, member.size, member.opener, member.mtime)
        elif member.kind == "hardlink":
            linked = self._hardlink_target(member)
            if linked is not None:
                yield _Item(out, False, linked.executable, linked.size, linked.opener, linked.mtime)
        else:
            yield from self._materialize_symlink(out, src, stack)

    def _materialize_symlink(
        self, out: PurePosixPath, src: PurePosixPath, stack: tuple[PurePosixPath, ...]
    ) -> Iterator[_Item]:
        real = self._realpath(src)
        target = self.members.get(real)
        if target is not None and target.kind in ("file", "hardlink"):
            yield from self._materialize(out, real, stack)
        elif real in self.directories:
            if real == PurePosixPath() or real in src.parents or real in stack:
                raise _looping_link(src.as_posix())
            yield _Item(out, True)
            for child in sorted(path for path in self.members if real in path.parents):
                yield from self._materialize(out / child.relative_to(real), child, (*stack, real))
        # Otherwise the link dangles inside the archive: there is nothing to copy.

    def _realpath(self, link: PurePosixPath) -> PurePosixPath:
        """Resolve `link` component by component, following member symlinks, never leaving the root."""
        resolved = list(link.parent.parts)
        pending = self._link_parts(link, link)
        hops = 0
        while pending:
            part = pending.pop(0)
            if part in ("", "."):
                continue
            if part == "..":
                if not resolved:
                    raise _escaping_link(link.as_posix(), self.members[link].target)
                resolved.pop()
                continue
            candidate = PurePosixPath(*resolved, part)
            member = self.members.get(candidate)
            if member is not None and member.kind == "symlink":
                hops += 1
                if hops > _MAX_LINK_HOPS:
                    raise _looping_link(link.as_posix())
                pending = self._link_parts(candidate, link) + pending
                continue
            resolved.append(part)
        return PurePosixPath(*resolved)

    def _link_parts(self, member_path: PurePosixPath, origin: PurePosixPath) -> list[str]:
        target = self.members[member_path].target
        if target.startswith("/"):
            raise _escaping_link(origin.as_posix(), target)
        return target.split("/")

    def _hardlink_target(self, member: _Member) -> _Member | None:
        """The regular file a tar hard link names (relative to the archive root), or None if absent."""
        current = member
        for _ in range(_MAX_LINK_HOPS):
            try:
                path = _member_path(current.target)
            except IntakeError:
                raise _escaping_link(member.path.as_posix(), current.target) from None
            linked = self.members.get(path) if path is not None else None
            if linked is None or linked.kind in ("dir", "symlink"):
                return None
            if linked.kind == "file":
                return linked
            current = linked
        raise _looping_link(member.path.as_posix())


# --- git sources ------------------------------------------------------------------------------------


def _git_env(home: Path) -> dict[str, str]:
    """An environment in which git reads only a config of ours and never prompts.

    Our config trusts every directory (`safe.directory`): git runs only in our own bare repository and,
    through the fetch, as upload-pack in the candidate's, which reads no command from repository config.
    A submission owned by another user would otherwise be refused as "dubious ownership".
    """
    home = home.absolute()  # git changes directory, so every path it is given must be absolute
    config = home / "gitconfig"
    config.write_text('[safe]\n\tdirectory = *\n[protocol "file"]\n\tallow = always\n', encoding="utf-8")
    env = {key: value for key, value in os.environ.items() if not key.startswith("GIT_")}
    env.update(
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=str(config),  # unlike `-c`, this reaches the upload-pack child of a local fetch
        GIT_TERMINAL_PROMPT="0",
        GIT_PAGER="cat",
        HOME=str(home),
        XDG_CONFIG_HOME=str(home),
    )
    return env


def _git(args: list[str], env: dict[str, str], source: Path) -> str:
    command = ["git", "-c", "core.hooksPath=/dev/null", *args]
    try:
        done = run_process(command, env=env, timeout_s=_GIT_TIMEOUT_S)
    except FileNotFoundError as exc:
        raise IntakeError("git is not installed on this machine; install it to grade git checkouts.") from exc
    except TimedOut as exc:
        raise IntakeError(f"git took more than {_GIT_TIMEOUT_S} s to read {source}; send an archive instead.") from exc
    if done.returncode != 0:
        reason = _git_reason(done.stderr) or f"exit code {done.returncode}"
        if "couldn't find remote ref" in done.stderr.lower():
            raise IntakeError(f"The git repository {source} has no commits; commit the work and submit again.")
        raise IntakeError(f"git could not read the repository {source} ({reason}); check that it is a valid checkout.")
    return done.stdout


def _git_reason(stderr: str) -> str:
    """git's own explanation: the first `fatal:` or `error:` line, without the prefix."""
    for line in stderr.splitlines():
        for prefix in ("fatal:", "error:"):
            if line.startswith(prefix):
                return line.removeprefix(prefix).strip().rstrip(".")
    return ""


def _git_head_archive(source: Path, work: Path, limits: IntakeLimits) -> tuple[Path, str]:
    """Export the HEAD commit of `source` as a tar in `work`; returns the tar and the commit id.

    git is never run inside the candidate's repository: its config could name filter or fsmonitor
    commands that git would execute. Instead a bare repository of ours fetches HEAD over the upload-pack
    protocol, which git treats as safe against untrusted repositories, and the archive comes from there.
    """
    env = _git_env(work)
    bare = work.absolute() / "head.git"
    _git(["init", "--quiet", "--bare", str(bare)], env, source)
    _git(
        [
            "-C", str(bare), "fetch", "--quiet", "--no-tags", "--no-recurse-submodules", "--depth=1",
            os.path.abspath(source), "HEAD",
        ],
        env,
        source,
    )  # fmt: skip
    revision = _git(["-C", str(bare), "rev-parse", "--verify", "FETCH_HEAD^{commit}"], env, source).strip()
    if not re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", revision):
        raise IntakeError(f"git gave an unexpected commit id for {source}; check the repository.")
    archive = work / "head.tar"
    _git_archive_to(["-C", str(bare), "archive", "--format=tar", revision], env, archive, limits, source)
    return archive, revision


def _git_archive_to(args: list[str], env: dict[str, str], archive: Path, limits: IntakeLimits, source: Path) -> None:
    """Run `git archive`, stopping it once its output passes the same raw cap as any other archive."""
    cap = limits.max_total_bytes * 10
    command = ["git", "-c", "core.hooksPath=/dev/null", *args]
    try:
        with open(archive, "wb") as out:
            code = copy_output(command, out, max_bytes=cap, timeout_s=_GIT_TIMEOUT_S, env=env, chunk_bytes=_CHUNK)
    except OutputTooLarge as exc:
        raise IntakeError(f"The HEAD commit of {source} is larger than {_human(cap)}; remove large files.") from exc
    except TimedOut as exc:
        raise IntakeError(f"git took more than {_GIT_TIMEOUT_S} s to read {source}; send an archive instead.") from exc
    if code != 0:
        raise IntakeError(f"git could not export the HEAD commit of {source}; check the repository.")
