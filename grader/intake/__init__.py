"""Take a read-only, content-addressed snapshot of a submission: a directory, a zip, a tar or a git checkout.

Everything a candidate sends is hostile input. Every archive member and directory entry is checked before
a byte is written, sizes are counted while bytes are copied (archive headers can lie), and the snapshot
holds only regular files and directories, so it can be bind-mounted read-only into a sandbox without
anything in it pointing back at the host.

The snapshot also carries hints about its files for the report (`Snapshot.findings`): a docker-compose file
that names a database or cache, which the grader starts only when the challenge declares it (`compose_hints`).

The rooms: `snapshot` (the entry point), `files` (limits, refusals and the writer), `archives`, `directories`
and `git` (one per kind of source) and `compose` (the hints).
"""

from grader.intake.archives import (
    READABLE_ARCHIVES,
    TAR_SUFFIXES,
    ZIP_SUFFIXES,
    ArchiveKind,
    archive_kind,
    unreadable_format,
)
from grader.intake.compose import COMPOSE_FILES, compose_hints
from grader.intake.files import DEFAULT_LIMITS, IntakeError, IntakeLimits, read_candidate_bytes
from grader.intake.snapshot import Snapshot, SourceKind, submission_name, take_snapshot

__all__ = [
    "COMPOSE_FILES",
    "DEFAULT_LIMITS",
    "READABLE_ARCHIVES",
    "TAR_SUFFIXES",
    "ZIP_SUFFIXES",
    "ArchiveKind",
    "IntakeError",
    "IntakeLimits",
    "Snapshot",
    "SourceKind",
    "archive_kind",
    "compose_hints",
    "read_candidate_bytes",
    "submission_name",
    "take_snapshot",
    "unreadable_format",
]
