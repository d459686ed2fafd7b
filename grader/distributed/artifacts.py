"""Content-addressed archives: what travels between the coordinator and the workers, and the stores that
carry them (the broker's Redis by default, `RedisArtifactStore`; an S3-compatible bucket, `grader.distributed.s3`).

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
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from grader.distributed.stores import StoreLocation

DEFAULT_MAX_BYTES = 200 * 1024 * 1024  # Redis holds a string of up to 512 MiB; a submission is far smaller
ARTIFACT_TTL_S = 7 * 24 * 3600  # long enough for a cohort to finish and be re-collected after a restart
KEY_PREFIX = "grader:artifact:"
# Folders intake skips at any depth anyway (grader/intake/files.py), left out so that a committed virtualenv
# does not count against the cap. Not .git: a repository is graded from its HEAD commit.
SKIPPED_NAMES = {"__pycache__", ".venv", "venv", "node_modules", ".mypy_cache", ".pytest_cache", ".ruff_cache"}


class ArtifactError(Exception):
    """An artifact is missing, too large, or its bytes do not match its hash: it is never used. Also a store
    that cannot be used at all (no bucket, no access, no answer), said in one sentence."""


def sha256_of(data: bytes) -> str:
    """`sha256:<hex>` of `data`: an artifact's address."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


class ArtifactStore(Protocol):
    """Where archives travel, addressed by their sha256. Every store refuses an archive over `max_bytes` on
    both `put` and `get`, and `get` returns only bytes that hash to the address asked for (`verified`)."""

    @property
    def max_bytes(self) -> int:
        """The cap, in bytes, of one archive."""
        ...

    def check(self) -> None:
        """ArtifactError, in one sentence, when the store cannot be used at all (nothing stored yet)."""
        ...

    def put(self, data: bytes, what: str) -> str:
        """Store `data` (described as `what` in errors) and return its address; storing it twice is harmless."""
        ...

    def get(self, digest: str, what: str) -> bytes:
        """The bytes stored under `digest`, verified against it; ArtifactError when missing or not matching."""
        ...

    def contains(self, digest: str) -> bool:
        """Whether something is stored under `digest` (not verified: `get` does that)."""
        ...

    def location(self) -> StoreLocation | None:
        """Where a worker finds this store, as a task message carries it (never credentials); None for the
        broker's own Redis, which every worker already has."""
        ...


def check_address(digest: str, what: str) -> None:
    """Refuse anything but a `sha256:<64 hex>` address (it becomes part of a key or an object name)."""
    hexdigest = digest.removeprefix("sha256:")
    if not digest.startswith("sha256:") or len(hexdigest) != 64 or not all(c in "0123456789abcdef" for c in hexdigest):
        raise ArtifactError(f"{what}: {digest!r} is not a sha256 address; the message is refused")


def check_size(size: int, max_bytes: int, what: str) -> None:
    """ArtifactError when `size` is over the cap."""
    if size > max_bytes:
        raise ArtifactError(f"{what} is {size / 2**20:.1f} MiB, over the {max_bytes / 2**20:.0f} MiB "
                            "cap for artifacts; shrink it or raise --max-artifact-mb on both sides")


def missing(digest: str, what: str) -> ArtifactError:
    """The error for an address with nothing stored under it."""
    return ArtifactError(f"{what}: artifact {digest} is not in the store (expired or never sent); "
                         "send the batch again")


def verified(data: bytes, digest: str, max_bytes: int, what: str) -> bytes:
    """`data` when it is within the cap and hashes to `digest`; else ArtifactError (changed or truncated)."""
    check_size(len(data), max_bytes, what)
    if sha256_of(data) != digest:
        raise ArtifactError(f"{what}: the stored archive does not match its hash {digest}; it was changed "
                            "after it was sent and is refused")
    return bytes(data)


@dataclass(frozen=True)
class RedisArtifactStore:
    """Archives by hash in the broker's Redis database (the default store), refused beyond `max_bytes`."""

    redis: Any  # a redis.Redis client (or anything with its get, set and exists)
    max_bytes: int = DEFAULT_MAX_BYTES

    def put(self, data: bytes, what: str) -> str:
        """Store `data` (described as `what` in errors) and return its hash; storing it twice is harmless."""
        check_size(len(data), self.max_bytes, what)
        digest = sha256_of(data)
        # Always written (not "if absent"): the bytes cross the network either way, and this replaces a copy
        # that was changed in the store, which would otherwise be refused for as long as it lives.
        self.redis.set(KEY_PREFIX + digest, data, ex=ARTIFACT_TTL_S)
        return digest

    def get(self, digest: str, what: str) -> bytes:
        """The bytes stored under `digest`, verified against it; ArtifactError when missing or not matching."""
        check_address(digest, what)
        data = self.redis.get(KEY_PREFIX + digest)
        if data is None:
            raise missing(digest, what)
        return verified(data, digest, self.max_bytes, what)

    def check(self) -> None:
        """Nothing to check: the coordinator has just reached the broker."""

    def contains(self, digest: str) -> bool:
        """Whether the address has bytes in Redis."""
        return bool(self.redis.exists(KEY_PREFIX + digest))

    def location(self) -> StoreLocation | None:
        """None: the workers use the broker they take tasks from."""
        return None


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
