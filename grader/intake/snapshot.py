"""The intake's entry point: a submission (directory, zip, tar or git checkout) becomes a read-only,
content-addressed snapshot under the grader's cache.
"""

from __future__ import annotations

import errno
import os
import re
import tempfile
import unicodedata
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from grader.intake.archives import (
    READABLE_ARCHIVES,
    TAR_SUFFIXES,
    ZIP_SUFFIXES,
    _fill_from_tar,
    _fill_from_zip,
    archive_kind,
    unreadable_format,
)
from grader.intake.compose import compose_hints
from grader.intake.directories import _walk_directory
from grader.intake.files import DEFAULT_LIMITS, IntakeError, IntakeLimits, _hash_existing, _remove_tree, _Writer
from grader.intake.git import _git_head_archive
from grader.models import Finding

SourceKind = Literal["directory", "zip", "tar", "git"]


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
