"""A worker's --cache-max-size: every few gradings the host's cache is fitted to it (real files, no engine)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from grader.distributed.worker import WorkerSettings, keep_cache_size


def test_a_worker_fits_its_cache_every_fifth_grading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRADER_CACHE_DIR", str(tmp_path / "cache"))
    stale = tmp_path / "cache" / "worker-results" / "k-stale"
    stale.mkdir(parents=True)
    (stale / "result.json").write_bytes(b"x" * 10_000)
    long_ago = time.time() - 3 * 86_400
    os.utime(stale, (long_ago, long_ago))
    settings = WorkerSettings(cache_max_bytes=100)
    for _ in range(4):
        keep_cache_size(settings, "3.11")
    assert stale.exists(), "fitted before the fifth grading"
    keep_cache_size(settings, "3.11")
    assert not stale.exists()
    assert settings.cache_limit is not None and settings.cache_limit.removed == 1


def test_without_a_size_a_worker_leaves_its_cache_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRADER_CACHE_DIR", str(tmp_path / "cache"))
    settings = WorkerSettings()
    for _ in range(5):
        keep_cache_size(settings, "3.11")
    assert settings.cache_limit is None
