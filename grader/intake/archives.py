"""Zip and tar submissions: which archives the intake reads, and their members checked, filtered and
written, links resolved within the archive (never outside it).
"""

from __future__ import annotations

import errno
import lzma
import re
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path, PurePosixPath
from typing import IO, Literal

from grader.intake.files import (
    _JUNK_DIRS,
    IntakeError,
    IntakeLimits,
    _check_name,
    _escaping_link,
    _human,
    _is_junk_name,
    _Item,
    _looping_link,
    _reason,
    _special_file,
    _Writer,
)

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


# Symlink chains longer than this are treated as loops, as the kernel does with ELOOP.
_MAX_LINK_HOPS = 40


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
