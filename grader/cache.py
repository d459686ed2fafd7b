"""The grader's content-addressed store: where each cache lives, its keys, its locks, last use, sizes, pruning.

The one module that knows the cache's layout. Everything that reads or writes a cache entry asks it for the
path (`wheelset_dir`, `stored_file`, `venv_dir`, ...), the key (`image_key`, `venv_key`) and the lock that
guards writing the entry (`entry_lock`, one implementation: `grader.filelocks`). On disk, under
`grader.paths.cache_root()`:

- `wheelsets/<key>/`: the wheels one resolution request needs, as hard links into `files/`. A set is
  resolved once (`.grader-wheelset.json` records the resolution, findings included); later gradings with
  the same request skip the resolver entirely. Prune it to re-resolve.
- `files/<sha256>/`: every wheel and source archive downloaded from the index, checked against its hash.
- `built/`: wheels built from source archives in a container, per archive hash (and failures, with the log).
- `uv/`: the resolver's own cache of index pages.
- `venvs/<key>/`: the local backend's environments.
- `snapshots/<name>-<hash>/`: read-only copies of submissions.
- `fingerprints/<hash>-k<k>-w<window>-v<n>.json`: each snapshot's fingerprints for the similarity comparison
  (`grader.similarity.store`).
- `mypy/<key>/`: a warm mypy cache of the standard library's stubs, one per runner image
  (see `grader.sandbox.mypy_seed`).
- `runs/`, `locks/`: scratch of running gradings and lock files.
- `worker-results/<key>/`, `worker-challenges/<sha256>/`, `worker-submissions/`: a `grader worker`'s
  finished gradings (reused when a task is delivered again), the challenge bundles it was sent and the
  submissions of the tasks it is running (see `grader.distributed.worker`).

In the Docker engine: `grader-env:<key>` (one per dependency set) and `grader-runner:<key>` images, which
the sandbox lists and removes for this module (`ImageCache`: the store never talks to the engine itself).
The base image is reported but never pruned (rebuilding it may need a registry or root).

Last use is the mtime of an entry (touched on reuse) or, for images, of `usage/image-<key>`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from grader import __version__
from grader.filelocks import file_lock, lock_is_free
from grader.paths import cache_dir, cache_root

WHEELSET_MARKER = ".grader-wheelset.json"  # written by grader.environments
DISK_GROUPS = (
    "wheelsets", "files", "built", "uv", "venvs", "snapshots", "fingerprints", "mypy", "runs", "locks", "usage",
    "worker-results", "worker-challenges", "worker-submissions",
)
IMAGE_ROLES = ("env", "runner")
DAY_S = 86_400.0
RUNS_MIN_AGE_S = 3_600.0  # a younger scratch dir may belong to a grading running right now
# Used by running gradings without a lock of their own: kept while younger than RUNS_MIN_AGE_S, even with --all.
IN_USE_WHILE_YOUNG = frozenset({"runs", "worker-challenges", "worker-submissions"})
DEFAULT_PRUNE_DAYS = 30.0
# A configured cache size never removes what was used this recently where the gradings in flight are not
# known (a worker's other processes): one may be between building its image and starting a container on it.
RECENT_USE_S = 600.0
# Read by a grading without a lock of its own: the downloads store (a wheel is linked from it into a wheel set).
# A batch fits its cache without them while gradings run, and with them once none does.
UNLOCKED_WHILE_GRADING = ("files",)
# One per grader version and needed by every grading: not counted in a configured cache size.
PER_VERSION = ("mypy",)

# The entries written under a lock, and the prefix of that lock's name (a lock file is `<prefix>-<name>`).
LockedGroup = Literal["wheelsets", "venvs", "mypy", "built", "images", "worker-results"]
LOCK_PREFIXES: dict[LockedGroup, str] = {
    "wheelsets": "wheels", "venvs": "venv", "mypy": "mypy", "built": "build", "images": "image",
    "worker-results": "worker",
}


# --- layout -----------------------------------------------------------------------------------------------


def wheelset_dir(key: str) -> Path:
    """The wheel set of one resolution request."""
    return cache_dir("wheelsets") / key


def stored_file(sha256: str, filename: str) -> Path:
    """Where a downloaded file with this hash lives (its directory is made on demand)."""
    return cache_dir("files") / sha256 / filename


def link_files(files: Iterable[Path], directory: Path) -> None:
    """Hard-link (or copy, across file systems) each stored file into `directory` (a wheel set, a build's links)."""
    directory.mkdir(parents=True, exist_ok=True)
    for source in files:
        target = directory / source.name
        if target.exists():
            continue
        try:
            os.link(source, target)
        except OSError:
            shutil.copy2(source, target)


def built_path(name: str) -> Path:
    """An entry of the built-wheels cache (`<archive sha256>-<target>`, or a set's links)."""
    return cache_dir("built") / name


def venv_dir(key: str) -> Path:
    """The local backend's venv for one environment key."""
    return cache_dir("venvs") / key


def mypy_seed_dir(key: str) -> Path:
    """The warm mypy cache for one runner image."""
    return cache_dir("mypy") / key


def resolver_cache_dir() -> Path:
    """uv's own cache of index pages (`UV_CACHE_DIR`)."""
    return cache_dir("uv")


def snapshots_dir() -> Path:
    """Where read-only copies of submissions are kept."""
    return cache_dir("snapshots")


def scratch_dir() -> Path:
    """Where running gradings keep their scratch directories (pruned only when an hour old)."""
    return cache_dir("runs")


def worker_result_dir(key: str) -> Path:
    """Where a worker grades the task of this key (a second delivery reuses the result there)."""
    return cache_dir("worker-results") / key


def worker_challenge_dir(digest: str) -> Path:
    """Where a worker keeps the challenge bundle of this sha256."""
    return cache_dir("worker-challenges") / digest


def entry_lock(group: LockedGroup, name: str, on_wait: Callable[[], None] | None = None
               ) -> contextlib.AbstractContextManager[None]:
    """The exclusive lock, shared by every grader process on this host, that guards writing one entry."""
    return file_lock(f"{LOCK_PREFIXES[group]}-{name}", on_wait=on_wait)


# --- keys -------------------------------------------------------------------------------------------------


# Bumped when environment images are made differently (grader.sandbox.images.environment), so images made the
# old way (reused by key, and a checkout's version string may not change) are made again (2: no `chmod -R` over
# the venv; a pin of pip or setuptools replaces the base venv's copy instead of mixing with it; 3: pip in a
# container that is committed, instead of a two-stage `docker build`; 4: that container's inputs mounted so
# that no VOLUME is declared in the committed image; 5: uv installs and compiles instead of pip, where it can).
IMAGE_LAYOUT = 5


def image_key(base_image_id: str, python: str, requirements: Iterable[str]) -> str:
    """The key of an environment or runner image: its base image, Python, requirements, the grader version and
    the layout of its build (`IMAGE_LAYOUT`)."""
    payload = json.dumps([base_image_id, python, sorted(requirements), __version__, IMAGE_LAYOUT])
    return hashlib.sha256(payload.encode()).hexdigest()


def venv_key(python_version: str, requirements: Iterable[str]) -> str:
    """The key of a local venv: the interpreter's major.minor, the sorted requirements and the grader version."""
    payload = {"python": python_version, "requirements": sorted(requirements), "grader": __version__}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


# --- last use ---------------------------------------------------------------------------------------------


def touch(path: Path) -> None:
    """Mark a cache entry as just used (its mtime); never fails a grading."""
    with contextlib.suppress(OSError):
        os.utime(path)


def mark_image_used(key: str) -> None:
    """Record that the environment or runner image built for `key` was just used."""
    with contextlib.suppress(OSError):
        (cache_dir("usage") / f"image-{key}").touch()


def _image_last_used(key: str, created: float) -> float:
    """This cache's mark of the image's last use (set whenever a grading builds or reuses it), else its creation."""
    try:
        return (cache_root() / "usage" / f"image-{key}").stat().st_mtime
    except OSError:
        return created


# --- sizes ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CacheEntry:
    """One prunable thing: a directory or file in a disk cache, or an image."""

    group: str
    name: str
    size: int
    last_used: float
    image_key: str | None = None


@dataclass
class CacheGroup:
    """A kind of cache and what it holds."""

    name: str
    where: str
    entries: list[CacheEntry] = field(default_factory=list)
    note: str = ""

    @property
    def size(self) -> int:
        """Bytes used by all entries."""
        return sum(entry.size for entry in self.entries)


def tree_size(path: Path) -> int:
    """Bytes of the files under `path` (symlinks counted as links, not followed)."""
    try:
        if not path.is_dir() or path.is_symlink():
            return path.lstat().st_size
    except OSError:
        return 0
    total = 0
    for directory, _dirs, names in os.walk(path):
        for name in names:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(directory, name)).st_size
    return total


def disk_groups() -> list[CacheGroup]:
    """The on-disk caches and their entries (missing caches are empty groups)."""
    groups = []
    for name in DISK_GROUPS:
        root = cache_root() / name
        group = CacheGroup(name, str(root))
        with contextlib.suppress(OSError):
            for entry in sorted(root.iterdir()):
                group.entries.append(CacheEntry(name, entry.name, tree_size(entry), _mtime(entry)))
        groups.append(group)
    return groups


def _mtime(path: Path) -> float:
    """Last use of a disk entry: its own mtime, or its wheel set marker's when that is newer."""
    try:
        stamp = path.lstat().st_mtime
    except OSError:
        return 0.0
    with contextlib.suppress(OSError):
        stamp = max(stamp, (path / WHEELSET_MARKER).stat().st_mtime)
    return stamp


@dataclass(frozen=True)
class ImageRecord:
    """One image of the engine, as the cache reports it."""

    name: str  # its first tag, else a short id
    role: str | None  # the `grader.role` label: env, runner, ...
    key: str | None  # the `grader.key` label: the image key it was built for
    size: int  # bytes, shared layers included
    unique_size: int  # bytes no other image shares
    created: float  # seconds since the epoch
    base: bool  # a base, root filesystem or build image (reported, never pruned)


class ImageCache(Protocol):
    """The engine's part of the cache, listed and removed by the sandbox (the store never talks to the engine)."""

    def records(self) -> list[ImageRecord]:
        """Every image of the engine."""
        ...

    def remove(self, role: str, keys: Collection[str]) -> int:
        """Delete the images of `role` built for `keys` (skipping any a container uses); return how many went."""
        ...


def image_groups(images: ImageCache) -> list[CacheGroup]:
    """Environment and runner images; sizes are what each image adds on top of layers it shares."""
    groups = {role: CacheGroup(f"{role} images", f"grader-{role}:*") for role in IMAGE_ROLES}
    base = CacheGroup("base images", "grader-base:*, grader-rootfs:*, grader-build*:*", note="never pruned")
    for image in images.records():
        if image.role in groups and image.key:
            group = groups[image.role]
            group.entries.append(CacheEntry(group.name, image.name, image.unique_size,
                                            _image_last_used(image.key, image.created), image_key=image.key))
        elif image.base:
            base.entries.append(CacheEntry(base.name, image.name, image.size, image.created))
    return [*groups.values(), base]


def cache_info(images: ImageCache | None) -> list[CacheGroup]:
    """Every cache with its entries; images only when the engine's part is given."""
    return disk_groups() + (image_groups(images) if images is not None else [])


# --- pruning ----------------------------------------------------------------------------------------------


@dataclass
class PruneReport:
    """What `prune` removed and what it skipped because it was in use."""

    removed: list[CacheEntry] = field(default_factory=list)
    skipped: list[CacheEntry] = field(default_factory=list)

    @property
    def freed(self) -> int:
        """Bytes removed (images: their unique bytes)."""
        return sum(entry.size for entry in self.removed)


def prune(older_than_days: float | None, everything: bool, images: ImageCache | None, now: float | None = None,
          max_bytes: int | None = None) -> PruneReport:
    """Remove cache entries not used for `older_than_days` days (default 30), or all of them; then, with
    `max_bytes`, the least recently used of the rest until the disk caches and the images fit in that many bytes.

    The base image, entries locked by a running grading and images a container uses are kept. Scratch
    dirs of running gradings (`runs/`) and a worker's bundles and incoming submissions younger than an hour
    are kept even with `everything`.
    """
    now = time.time() if now is None else now
    cutoff = now if everything else now - (older_than_days if older_than_days is not None
                                           else DEFAULT_PRUNE_DAYS) * DAY_S
    report = PruneReport()
    for group in disk_groups():
        for entry in group.entries:
            _prune_disk_entry(entry, cutoff, now, report)
    if images is not None:
        _prune_images(images, cutoff, report)
    if max_bytes is not None:
        _prune_to_size(max_bytes, now, report, images)
    return report


def fit(max_bytes: int, images: ImageCache | None, keep_used_after: float | None = None,
        spare_groups: Collection[str] = (), now: float | None = None) -> PruneReport:
    """Remove the least recently used entries, on disk and the environment images, until what grows with the
    submissions fits in `max_bytes` (a grading's configured cache size). Not counted: the runner image and its
    mypy seed (one per grader version, needed by every grading; `prune` removes old ones by age), and images
    only another cache directory used (its gradings on the same engine keep theirs). Nothing used after
    `keep_used_after` (default: the last RECENT_USE_S seconds) goes, nor the `spare_groups`: gradings in flight
    may still need them, and the limit is then exceeded by what they use. Entries a running grading locks and
    images a container uses are kept too."""
    now = time.time() if now is None else now
    report = PruneReport()
    own = _OwnImages(images) if images is not None else None
    keep_after = now - RECENT_USE_S if keep_used_after is None else keep_used_after
    _prune_to_size(max_bytes, now, report, own, keep_after=keep_after, spare_groups=(*spare_groups, *PER_VERSION),
                   image_roles=("env",))
    return report


def counted_size(images: ImageCache | None) -> int:
    """Bytes of what a configured cache size counts: the disk caches but the per-version ones, and the
    environment images this cache used."""
    own = _OwnImages(images) if images is not None else None
    return sum(entry.size for entry in _sized_entries(own, PER_VERSION, ("env",)))


class _OwnImages:
    """The images of an engine that this cache directory has used (it holds their last-use marks)."""

    def __init__(self, images: ImageCache) -> None:
        self._images = images

    def records(self) -> list[ImageRecord]:
        usage = cache_root() / "usage"
        return [record for record in self._images.records()
                if record.key is not None and (usage / f"image-{record.key}").exists()]

    def remove(self, role: str, keys: Collection[str]) -> int:
        return self._images.remove(role, keys)


def _prune_to_size(max_bytes: int, now: float, report: PruneReport, images: ImageCache | None = None,
                   keep_after: float | None = None, spare_groups: Collection[str] = (),
                   image_roles: Collection[str] = IMAGE_ROLES) -> None:
    """Remove entries, least recently used first, until what is left fits in `max_bytes`: the disk caches but
    `spare_groups` (not counted), and with `images` those of `image_roles`. With `keep_after`, nothing used
    since then goes."""
    entries = _sized_entries(images, spare_groups, image_roles)
    total = sum(entry.size for entry in entries)
    skipped = {(entry.group, entry.name) for entry in report.skipped}
    for entry in sorted(entries, key=lambda e: e.last_used):
        if total <= max_bytes or (keep_after is not None and entry.last_used > keep_after):
            return
        if (entry.group, entry.name) in skipped:
            continue
        if entry.image_key is not None and images is not None:
            removed = _remove_image(images, entry, report)
        else:
            removed = _prune_disk_entry(entry, now, now, report)
        if removed:
            total -= entry.size


def _sized_entries(images: ImageCache | None, spare_groups: Collection[str],
                   image_roles: Collection[str]) -> list[CacheEntry]:
    """What a size budget counts and may remove: the disk caches but `spare_groups`, locks and use marks (empty
    files: a lock removed while held stops excluding; a use mark goes with its image), and with `images` those
    of `image_roles`."""
    spared = {"locks", "usage", *spare_groups}
    entries = [entry for group in disk_groups() if group.name not in spared for entry in group.entries]
    if images is not None:
        entries += [entry for group in image_groups(images)[: len(IMAGE_ROLES)]
                    if group.name.split()[0] in image_roles for entry in group.entries]
    return entries


def _remove_image(images: ImageCache, entry: CacheEntry, report: PruneReport) -> bool:
    """Delete one environment or runner image unless a container uses it; True if it went."""
    role = "env" if entry.group.startswith("env") else "runner"
    if entry.image_key is not None and images.remove(role, {entry.image_key}):
        report.removed.append(entry)
        return True
    report.skipped.append(entry)
    return False


def _prune_disk_entry(entry: CacheEntry, cutoff: float, now: float, report: PruneReport) -> bool:
    """Remove one disk entry when it was last used before `cutoff` and nothing uses it; True if removed."""
    limit = min(cutoff, now - RUNS_MIN_AGE_S) if entry.group in IN_USE_WHILE_YOUNG else cutoff
    if entry.last_used > limit or entry.group == "locks":  # a lock file removed while held stops excluding
        return False
    if not lock_is_free(_lock_name(entry)):
        report.skipped.append(entry)
        return False
    path = cache_root() / entry.group / entry.name
    try:
        remove_tree(path)
    except OSError:
        report.skipped.append(entry)
        return False
    report.removed.append(entry)
    return True


def _lock_name(entry: CacheEntry) -> str:
    """The lock a running grading holds while it writes this entry."""
    prefix = next((prefix for group, prefix in LOCK_PREFIXES.items() if group == entry.group), None)
    return f"{prefix}-{entry.name}" if prefix else f"unlocked-{entry.group}"


def _prune_images(images: ImageCache, cutoff: float, report: PruneReport) -> None:
    for group in image_groups(images)[: len(IMAGE_ROLES)]:
        for entry in group.entries:
            if entry.last_used <= cutoff and entry.image_key is not None:
                _remove_image(images, entry, report)


def remove_tree(path: Path) -> None:
    """Delete a file or a tree, read-only directories (snapshots) included."""
    if path.is_symlink() or path.is_file():
        path.unlink()
        return
    for directory, _dirs, _names in os.walk(path):
        os.chmod(directory, 0o700)  # top-down: each directory is writable before its entries go
    shutil.rmtree(path)


SIZE_UNITS = {"": 1, "B": 1, "K": 1024, "KB": 1000, "KIB": 1024, "M": 1024**2, "MB": 1000**2, "MIB": 1024**2,
              "G": 1024**3, "GB": 1000**3, "GIB": 1024**3, "T": 1024**4, "TB": 1000**4, "TIB": 1024**4}


def parse_size(text: str) -> int:
    """'500M', '2GiB', '1.5 GB', '4096' -> bytes; ValueError for anything else."""
    stripped = text.strip().upper()
    number = stripped.rstrip("BKMGTI ")
    unit = stripped[len(number):].strip()
    if unit not in SIZE_UNITS:
        raise ValueError(f"unknown size unit in {text!r}")
    value = float(number)
    if value < 0:
        raise ValueError(f"negative size {text!r}")
    return int(value * SIZE_UNITS[unit])


def human_size(size: int) -> str:
    """1536 -> '1.5 KiB'."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"
