"""The grader's caches: wheel sets resolved once (also under threads), sizes, and pruning by age."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import threading
import time
from collections.abc import Collection
from pathlib import Path

import pytest

import grader.environments
from grader import cache
from grader.cache import ImageRecord, LockedGroup, cache_info, prune
from grader.environments import DependencyError, WheelSet, prepare_wheels
from grader.filelocks import file_lock
from grader.models import Finding, Severity
from grader.paths import cache_root
from grader.resolve import Resolution, Resolved, ResolveRequest
from grader.uv import ResolverUnavailable, Target


@pytest.fixture
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A cache of this test's own: pruning must never touch the session's shared cache."""
    root = tmp_path / "cache"
    monkeypatch.setenv("GRADER_CACHE_DIR", str(root))
    return root


class FakeResolver:
    """Stands in for uv and the index: one local wheel, slowly, counting its calls (the real resolver is
    exercised in tests/network/grader/test_resolve.py)."""

    def __init__(self, wheel: Path) -> None:
        self.wheel = wheel
        self.calls = 0
        self.fail = False

    def __call__(self, request: ResolveRequest, builder: object, log: object) -> Resolution:
        self.calls += 1
        if self.fail:
            raise ResolverUnavailable("no network")
        time.sleep(0.2)
        package = Resolved("six", "1.16.0", "pin", "main", False, self.wheel.as_uri(), None, self.wheel.name)
        finding = Finding(message="nope was not installed", severity=Severity.WARNING, rule="deps.not-installed")
        return Resolution((package,), (finding,), None, "uv test")


@pytest.fixture
def resolver(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FakeResolver:
    wheel = tmp_path / "wheels" / "six-1.16.0-py3-none-any.whl"
    wheel.parent.mkdir()
    wheel.write_bytes(b"wheel")
    fake = FakeResolver(wheel)
    monkeypatch.setattr(grader.environments, "resolve", fake)
    return fake


REQUEST = ResolveRequest(("six==1.16.0",), (), (), None, Target("3.11", None), None)


def quiet(_: str) -> None:
    pass


@pytest.mark.usefixtures("own_cache")
def test_a_wheel_set_is_resolved_once_even_by_parallel_gradings(resolver: FakeResolver) -> None:
    results: list[WheelSet] = []
    threads = [threading.Thread(target=lambda: results.append(prepare_wheels(REQUEST, None, quiet)))
               for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert resolver.calls == 1
    assert {r.installable for r in results} == {("six==1.16.0",)}
    again = prepare_wheels(REQUEST, None, quiet)
    assert resolver.calls == 1 and again.resolution.findings[0].rule == "deps.not-installed"  # findings kept too
    (again.directory / "six-1.16.0-py3-none-any.whl").unlink()  # an incomplete set is resolved again
    prepare_wheels(REQUEST, None, quiet)
    assert resolver.calls == 2


@pytest.mark.usefixtures("own_cache")
def test_a_failed_resolution_is_not_remembered(resolver: FakeResolver) -> None:
    resolver.fail = True
    with pytest.raises(DependencyError):
        prepare_wheels(REQUEST, None, quiet)
    resolver.fail = False
    assert prepare_wheels(REQUEST, None, quiet).installable == ("six==1.16.0",)
    assert resolver.calls == 2


def age(path: Path, days: float) -> None:
    stamp = time.time() - days * 86_400
    os.utime(path, (stamp, stamp))


def test_prune_removes_old_entries_and_keeps_recent_and_locked_ones(own_cache: Path) -> None:
    old_set, new_set, locked_set = (own_cache / "wheelsets" / name for name in ("old", "new", "locked"))
    for directory in (old_set, new_set, locked_set):
        directory.mkdir(parents=True)
        (directory / "x.whl").write_bytes(b"1234")
    snapshot = own_cache / "snapshots" / "alice-0123"
    (snapshot / "pkg").mkdir(parents=True)
    (snapshot / "pkg" / "app.py").write_text("x = 1\n")
    for directory in (snapshot / "pkg", snapshot):
        directory.chmod(0o555)  # snapshots are read-only trees
    scratch = own_cache / "runs" / "run-live"
    scratch.mkdir(parents=True)
    for path in (old_set, locked_set, snapshot):
        age(path, 40)
    age(scratch, 0.01)
    with file_lock("wheels-locked"), open(own_cache / "locks" / "wheels-locked.lock") as held:
        with pytest.raises(BlockingIOError):
            fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # the lock is really held
        report = prune(None, False, None)
    removed = {f"{e.group}/{e.name}" for e in report.removed}
    assert removed == {"wheelsets/old", "snapshots/alice-0123"}
    assert [f"{e.group}/{e.name}" for e in report.skipped] == ["wheelsets/locked"]
    assert new_set.exists() and locked_set.exists() and not snapshot.exists()
    assert report.freed >= 4
    everything = prune(None, True, None)
    assert {e.name for e in everything.removed} >= {"new", "locked"}
    assert scratch.exists(), "a running grading's scratch dir younger than an hour is kept even with --all"


def test_cache_info_reports_sizes(own_cache: Path) -> None:
    (own_cache / "wheelsets" / "k").mkdir(parents=True)
    (own_cache / "wheelsets" / "k" / "a.whl").write_bytes(b"x" * 2048)
    groups = {group.name: group for group in cache_info(None)}
    assert groups["wheelsets"].size == 2048 and len(groups["wheelsets"].entries) == 1
    assert {"venvs", "snapshots", "mypy"} <= set(groups)


def test_cache_commands(own_cache: Path) -> None:
    (own_cache / "venvs" / "old").mkdir(parents=True)
    age(own_cache / "venvs" / "old", 10)
    env = {**os.environ, "GRADER_CACHE_DIR": str(own_cache), "DOCKER_HOST": "unix:///nonexistent/docker.sock"}

    def grader_cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "grader", "cache", *args], capture_output=True, text=True,
                              env=env, timeout=120, check=False)

    info = grader_cli("info")
    assert info.returncode == 0 and "venvs:" in info.stdout and "image caches are not shown" in info.stdout
    kept = grader_cli("prune", "--older-than", "30")
    assert kept.returncode == 0 and "removed 0 entries" in kept.stdout
    pruned = grader_cli("prune", "--older-than", "7")
    assert pruned.returncode == 0 and "removed venvs/old" in pruned.stdout
    assert grader_cli("prune", "--all", "--older-than", "1").returncode == 2
    (own_cache / "worker-results" / "k").mkdir(parents=True)
    (own_cache / "worker-results" / "k" / "result.json").write_bytes(b"x" * 4096)
    sized = grader_cli("prune", "--max-size", "1KiB")
    assert sized.returncode == 0 and "removed worker-results/k" in sized.stdout, sized.stdout + sized.stderr
    assert grader_cli("prune", "--max-size", "lots").returncode == 2


# --- the store's layout, keys and locks ----------------------------------------------------------------------


@pytest.mark.parametrize("group", ["wheelsets", "venvs", "mypy", "built"])
def test_an_entry_locked_by_its_writer_is_never_pruned(own_cache: Path, group: LockedGroup) -> None:
    """The writer's lock (`entry_lock`) and the one pruning looks at are the same: one table names both."""
    entry = own_cache / group / "k"
    entry.mkdir(parents=True)
    age(entry, 40)
    with cache.entry_lock(group, "k"):
        report = prune(None, True, None)
    assert [f"{e.group}/{e.name}" for e in report.skipped] == [f"{group}/k"] and entry.exists()
    assert [e.name for e in prune(None, True, None).removed] == ["k"]


def test_store_paths_are_where_the_layout_says(own_cache: Path) -> None:
    assert cache.wheelset_dir("k") == own_cache / "wheelsets" / "k"
    assert cache.stored_file("abc", "six.whl") == own_cache / "files" / "abc" / "six.whl"
    assert cache.venv_dir("k") == own_cache / "venvs" / "k"
    assert cache.mypy_seed_dir("k") == own_cache / "mypy" / "k"
    assert cache.built_path("x") == own_cache / "built" / "x"
    assert cache.snapshots_dir() == own_cache / "snapshots" and cache.scratch_dir() == own_cache / "runs"


def test_a_new_image_layout_changes_every_image_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """Images made the older way are not reused: the layout is part of the key."""
    monkeypatch.setattr(cache, "__version__", "1.2.3")
    current = cache.image_key("sha256:abc", "3.11", ("a==2",))
    monkeypatch.setattr(cache, "IMAGE_LAYOUT", cache.IMAGE_LAYOUT - 1)
    assert cache.image_key("sha256:abc", "3.11", ("a==2",)) != current


def test_keys_stay_what_they_were(monkeypatch: pytest.MonkeyPatch) -> None:
    """Images and venvs built by an earlier grader of the same version and image layout are found again: same
    payload, same hash (the image key changes with IMAGE_LAYOUT on purpose)."""
    monkeypatch.setattr(cache, "__version__", "1.2.3")
    assert cache.image_key("sha256:abc", "3.11", ("b==1", "a==2")) == (
        "459b09440ba07690928f4f37f637f4d8401e4fe9c1344bfd71f31b9bad4be4d7")
    assert cache.venv_key("3.11", ["b==1", "a==2"]) == (
        "3ba868fdbcbf7a1256d6fd5bd1b81fa37391dd56817cfa63e78bb30a9f775fee")


class FakeImages:
    """Stands in for the engine's images (the real adapter is tested in tests/docker/grader/sandbox/test_images.py)."""

    def __init__(self, records: list[ImageRecord]) -> None:
        self._records = records
        self.removed: list[tuple[str, set[str]]] = []

    def records(self) -> list[ImageRecord]:
        return self._records

    def remove(self, role: str, keys: Collection[str]) -> int:
        self.removed.append((role, set(keys)))
        return 1


def test_images_are_pruned_by_last_use_and_the_base_never(own_cache: Path) -> None:
    now = time.time()
    old, used = now - 40 * 86_400, now - 40 * 86_400
    cache.mark_image_used("used")  # a grading used it just now, though it was built long ago
    images = FakeImages([
        ImageRecord("grader-env:old", "env", "old", 100, 60, old, False),
        ImageRecord("grader-runner:used", "runner", "used", 100, 50, used, False),
        ImageRecord("grader-base:py3.11", None, None, 500, 500, old, True),
        ImageRecord("python:3.11-slim", None, None, 500, 500, old, False),
    ])
    groups = {group.name: group for group in cache_info(images)}
    assert [e.name for e in groups["env images"].entries] == ["grader-env:old"]
    assert groups["env images"].size == 60 and [e.name for e in groups["base images"].entries] == ["grader-base:py3.11"]
    report = prune(None, False, images, now=now)
    assert images.removed == [("env", {"old"})]
    assert [e.name for e in report.removed if e.image_key] == ["grader-env:old"]


# --- a worker's folders ------------------------------------------------------------------------------------


def worker_entry(root: Path, group: str, name: str, size: int, days_old: float) -> Path:
    """A folder of a worker's cache holding `size` bytes, last used `days_old` days ago."""
    entry = root / group / name
    entry.mkdir(parents=True)
    (entry / "result.json").write_bytes(b"x" * size)
    age(entry, days_old)
    return entry


def test_prune_removes_old_worker_folders_and_keeps_those_in_use(own_cache: Path) -> None:
    old_result = worker_entry(own_cache, "worker-results", "k-old", 100, 40)
    busy_result = worker_entry(own_cache, "worker-results", "k-busy", 100, 40)
    old_bundle = worker_entry(own_cache, "worker-challenges", "c-old", 100, 40)
    incoming = worker_entry(own_cache, "worker-submissions", "tmp-running", 100, 0.001)
    with cache.entry_lock("worker-results", "k-busy"):  # a worker grading that key right now
        report = prune(None, True, None)
    assert {f"{e.group}/{e.name}" for e in report.removed} == {"worker-results/k-old", "worker-challenges/c-old"}
    assert [f"{e.group}/{e.name}" for e in report.skipped] == ["worker-results/k-busy"]
    assert not old_result.exists() and not old_bundle.exists()
    assert busy_result.exists(), "a result a worker is writing under its key's lock is kept"
    assert incoming.exists(), "a running task's submission (younger than an hour) is kept even with --all"
    assert cache.worker_result_dir("k-old") == old_result  # where the worker grades (under that lock)


def test_prune_to_a_size_removes_the_least_recently_used_first(own_cache: Path) -> None:
    oldest = worker_entry(own_cache, "worker-results", "k-oldest", 1000, 9)
    older = worker_entry(own_cache, "worker-results", "k-older", 1000, 5)
    newer = worker_entry(own_cache, "worker-challenges", "c-newer", 1000, 3)
    newest = worker_entry(own_cache, "worker-results", "k-newest", 1000, 1)
    report = prune(30, False, None, max_bytes=2500)  # nothing is 30 days old: only the size budget removes
    assert [e.name for e in report.removed] == ["k-oldest", "k-older"]
    assert not oldest.exists() and not older.exists() and newer.exists() and newest.exists()
    assert sum(group.size for group in cache_info(None)) <= 2500



# --- a configured cache size (`grader grade --cache-max-size`) ----------------------------------------------


def used_days_ago(key: str, days: float) -> None:
    """This cache's last-use mark of the image built for `key`, `days` ago."""
    cache.mark_image_used(key)
    stamp = time.time() - days * 86_400
    os.utime(cache_root() / "usage" / f"image-{key}", (stamp, stamp))


def test_fitting_removes_disk_entries_and_images_least_recently_used_first_and_nothing_used_lately(
    own_cache: Path,
) -> None:
    now = time.time()
    oldest_disk = worker_entry(own_cache, "worker-results", "k-oldest", 1000, 3)
    recent_disk = worker_entry(own_cache, "worker-results", "k-recent", 1000, 0.001)  # 90 s ago: in flight
    images = FakeImages([
        ImageRecord("grader-env:old", "env", "old", 5000, 1000, now - 9 * 86_400, False),
        ImageRecord("grader-env:older", "env", "older", 5000, 1000, now - 9 * 86_400, False),
        ImageRecord("grader-runner:tools", "runner", "tools", 5000, 1000, now - 9 * 86_400, False),
        ImageRecord("grader-env:theirs", "env", "theirs", 5000, 1000, now - 30 * 86_400, False),
        ImageRecord("grader-base:py3.11", None, None, 9000, 9000, now - 9 * 86_400, True),
    ])
    for key, days in (("old", 2), ("older", 4), ("tools", 9)):
        used_days_ago(key, days)
    report = cache.fit(500, images, now=now)
    # 4000 bytes count (not the runner image, needed by every grading): the older image, the oldest folder and
    # the old image go in order of last use; the folder used 90 s ago stays though its 1000 bytes exceed 500.
    assert [e.name for e in report.removed] == ["grader-env:older", "k-oldest", "grader-env:old"]
    assert images.removed == [("env", {"older"}), ("env", {"old"})]
    assert not oldest_disk.exists() and recent_disk.exists()
    assert ("env", {"theirs"}) not in images.removed, "an image only another cache directory used is not ours"
    assert ("runner", {"tools"}) not in images.removed

    over = FakeImages([ImageRecord("grader-env:new", "env", "new", 5000, 9000, now - 30, False)])
    used_days_ago("new", 30 / 86_400)
    assert cache.fit(1000, over, now=now).removed == [] and over.removed == [], (
        "an image built a moment ago may be one a grading is about to start its first container on")


def test_fitting_skips_an_image_a_container_uses_and_goes_on(own_cache: Path) -> None:
    now = time.time()

    class InUse(FakeImages):
        def remove(self, role: str, keys: Collection[str]) -> int:
            self.removed.append((role, set(keys)))
            return 0 if keys == {"busy"} else 1

    images = InUse([
        ImageRecord("grader-env:busy", "env", "busy", 10, 1000, now - 5 * 86_400, False),
        ImageRecord("grader-env:idle", "env", "idle", 10, 1000, now - 4 * 86_400, False),
    ])
    used_days_ago("busy", 5)
    used_days_ago("idle", 4)
    report = cache.fit(1000, images, now=now)
    assert [e.name for e in report.skipped] == ["grader-env:busy"]
    assert [e.name for e in report.removed] == ["grader-env:idle"]


def test_the_counted_size_leaves_out_the_runner_its_mypy_seed_and_others_images(own_cache: Path) -> None:
    now = time.time()
    worker_entry(own_cache, "worker-results", "k-1", 1000, 1)
    worker_entry(own_cache, "mypy", "seed", 5000, 1)
    images = FakeImages([
        ImageRecord("grader-env:ours", "env", "ours", 9000, 700, now, False),
        ImageRecord("grader-env:theirs", "env", "theirs", 9000, 800, now, False),
        ImageRecord("grader-runner:tools", "runner", "tools", 9000, 900, now, False),
    ])
    used_days_ago("ours", 1)
    used_days_ago("tools", 1)
    assert cache.counted_size(images) == 1000 + 700
