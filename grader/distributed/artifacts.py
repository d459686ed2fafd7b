"""Content-addressed archives in the broker's Redis: what travels between the coordinator and the workers.

An artifact is stored under its own sha256 and checked against it when it is read: a worker grades only a
submission and a challenge whose bytes hash to what the message names, so a message cannot make it grade
something else, and a changed or truncated archive is refused. Archives are gzip'd tars made without
owners or archive timestamps (file times are kept: intake reads the newest file's date), so the same
folder gives the same hash.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import shutil
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_MAX_BYTES = 200 * 1024 * 1024  # Redis holds a string of up to 512 MiB; a submission is far smaller
ARTIFACT_TTL_S = 7 * 24 * 3600  # long enough for a cohort to finish and be re-collected after a restart
KEY_PREFIX = "grader:artifact:"
# Folders intake skips at any depth anyway (grader/intake/files.py), left out so that a committed virtualenv
# does not count against the cap. Not .git: a repository is graded from its HEAD commit.
SKIPPED_NAMES = {"__pycache__", ".venv", "venv", "node_modules", ".mypy_cache", ".pytest_cache", ".ruff_cache"}


class ArtifactError(Exception):
    """An artifact is missing, too large, or its bytes do not match its hash: it is never used."""


def sha256_of(data: bytes) -> str:
    """`sha256:<hex>` of `data`: an artifact's address."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class ArtifactStore:
    """Archives by hash in a Redis database, refused beyond `max_bytes`."""

    redis: Any  # a redis.Redis client (or anything with its get and set)
    max_bytes: int = DEFAULT_MAX_BYTES

    def put(self, data: bytes, what: str) -> str:
        """Store `data` (described as `what` in errors) and return its hash; storing it twice is harmless."""
        self._check_size(len(data), what)
        digest = sha256_of(data)
        # Always written (not "if absent"): the bytes cross the network either way, and this replaces a copy
        # that was changed in the store, which would otherwise be refused for as long as it lives.
        self.redis.set(KEY_PREFIX + digest, data, ex=ARTIFACT_TTL_S)
        return digest

    def get(self, digest: str, what: str) -> bytes:
        """The bytes stored under `digest`, verified against it; ArtifactError when missing or not matching."""
        if not digest.startswith("sha256:") or len(digest) != len("sha256:") + 64:
            raise ArtifactError(f"{what}: {digest!r} is not a sha256 address; the message is refused")
        data = self.redis.get(KEY_PREFIX + digest)
        if data is None:
            raise ArtifactError(f"{what}: artifact {digest} is not in the store (expired or never sent); "
                                "send the batch again")
        self._check_size(len(data), what)
        if sha256_of(data) != digest:
            raise ArtifactError(f"{what}: the stored archive does not match its hash {digest}; it was changed "
                                "after it was sent and is refused")
        return bytes(data)

    def _check_size(self, size: int, what: str) -> None:
        if size > self.max_bytes:
            raise ArtifactError(f"{what} is {size / 2**20:.1f} MiB, over the {self.max_bytes / 2**20:.0f} MiB "
                                "cap for artifacts; shrink it or raise --max-artifact-mb on both sides")


def pack_directory(directory: Path) -> bytes:
    """`directory`'s files as a reproducible tar.gz (names relative to it, sorted; no owners, file times kept)."""
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as zipped, \
            tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for path in sorted(directory.rglob("*")):
            relative = path.relative_to(directory)
            if SKIPPED_NAMES & set(relative.parts):
                continue
            info = archive.gettarinfo(str(path), arcname=relative.as_posix())
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if info.isreg():
                with path.open("rb") as handle:
                    archive.addfile(info, handle)
            elif info.isdir() or info.issym():
                archive.addfile(info)
    return buffer.getvalue()


def unpack_directory(data: bytes, destination: Path) -> Path:
    """Extract an archive made by `pack_directory` into `destination` (made empty first), refusing any entry
    that would land outside it (tarfile's `data` filter)."""
    if destination.exists():
        shutil.rmtree(destination)
    destination.mkdir(parents=True)
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
            archive.extractall(destination, filter="data")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ArtifactError(f"the archive cannot be unpacked: {exc}") from None
    return destination
