"""The artifact store's checks on its own: hashes, the size cap, reproducible archives, and an archive that
tries to write outside its folder. With a real Redis and real workers: tests/network/test_distributed.py."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from grader.distributed.artifacts import (
    KEY_PREFIX,
    ArtifactError,
    RedisArtifactStore,
    pack_directory,
    sha256_of,
    unpack_directory,
)


class DictRedis:
    """The two calls the store makes, over a dict (beside the real-Redis tests, never instead)."""

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}

    def set(self, name: str, value: bytes, ex: int | None = None) -> bool:
        self.data[name] = value
        return True

    def get(self, name: str) -> bytes | None:
        return self.data.get(name)

    def exists(self, name: str) -> int:
        return int(name in self.data)


def test_an_artifact_comes_back_only_when_its_bytes_match_its_hash() -> None:
    redis = DictRedis()
    store = RedisArtifactStore(redis)
    digest = store.put(b"submission bytes", "submission")
    assert digest == sha256_of(b"submission bytes")
    assert store.get(digest, "submission") == b"submission bytes"
    redis.data[KEY_PREFIX + digest] = b"submission bytez"
    with pytest.raises(ArtifactError, match="does not match its hash"):
        store.get(digest, "submission")
    assert store.put(b"submission bytes", "submission") == digest  # sending it again repairs the copy
    assert store.get(digest, "submission") == b"submission bytes"
    assert store.contains(digest) and not store.contains(sha256_of(b"never sent"))
    assert store.location() is None  # the workers use the broker they take tasks from: no location travels


def test_a_missing_or_malformed_address_is_refused() -> None:
    store = RedisArtifactStore(DictRedis())
    with pytest.raises(ArtifactError, match="not in the store"):
        store.get(sha256_of(b"never sent"), "submission")
    with pytest.raises(ArtifactError, match="not a sha256 address"):
        store.get("../../etc/passwd", "submission")


def test_an_artifact_over_the_cap_is_one_clear_error() -> None:
    store = RedisArtifactStore(DictRedis(), max_bytes=1024)
    with pytest.raises(ArtifactError, match=r"over the 0 MiB cap.*--max-artifact-mb"):
        store.put(b"x" * 2048, "submission alice")


def test_the_same_folder_packs_to_the_same_bytes_and_unpacks_with_its_file_times(tmp_path: Path) -> None:
    folder = tmp_path / "alice"
    (folder / "app").mkdir(parents=True)
    (folder / "app" / "main.py").write_text("print('hi')\n")
    (folder / "__pycache__").mkdir()
    (folder / "__pycache__" / "main.cpython-311.pyc").write_bytes(b"\0")
    (folder / ".venv" / "bin").mkdir(parents=True)  # intake skips these: they do not travel either
    (folder / ".venv" / "bin" / "python").write_bytes(b"\0" * 1000)
    (folder / ".git").mkdir()  # a repository travels with its history
    (folder / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    os.utime(folder / "app" / "main.py", (1_700_000_000, 1_700_000_000))
    first, second = pack_directory(folder), pack_directory(folder)
    assert first == second
    unpacked = unpack_directory(first, tmp_path / "copy")
    assert (unpacked / "app" / "main.py").read_text() == "print('hi')\n"
    assert (unpacked / "app" / "main.py").stat().st_mtime == 1_700_000_000
    assert not (unpacked / "__pycache__").exists()
    assert not (unpacked / ".venv").exists()
    assert (unpacked / ".git" / "HEAD").read_text() == "ref: refs/heads/main\n"


def test_an_archive_reaching_outside_its_folder_is_refused(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo("../escaped.txt")
        info.size = 3
        archive.addfile(info, io.BytesIO(b"bad"))
    with pytest.raises(ArtifactError, match="cannot be unpacked"):
        unpack_directory(buffer.getvalue(), tmp_path / "inside" / "dest")
    assert not (tmp_path / "inside" / "escaped.txt").exists()
