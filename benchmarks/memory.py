"""Peak memory while grading: the grader's own containers (from their cgroups) and the grader's processes.

Containers are found in the cgroup filesystem (no API call per sample, which would itself cost CPU on a
small machine); each new one is inspected once to learn whether it belongs to this benchmark (a grader
container whose mounts come from this benchmark's cache directory, or one of the same session) and its
role. Memory is what Docker reports as usage: the cgroup's usage minus its inactive file cache.
"""

from __future__ import annotations

import contextlib
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CGROUP_PATTERNS = (
    "/sys/fs/cgroup/memory/docker/*",  # v1, cgroupfs driver
    "/sys/fs/cgroup/memory/system.slice/docker-*.scope",  # v1, systemd driver
    "/sys/fs/cgroup/system.slice/docker-*.scope",  # v2, systemd driver
    "/sys/fs/cgroup/docker/*",  # v2, cgroupfs driver
)
PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass
class Peaks:
    """The highest totals seen in one sample (bytes)."""

    grader_side: int = 0  # the grader's containers except the candidate's app, plus the grader's processes
    app: int = 0  # the candidate's app containers
    processes: int = 0  # the grader's own process tree on the host
    samples: int = 0
    roles: dict[str, int] = field(default_factory=dict)  # peak per container role, one container
    cpu_busy: float = 0.0  # share of all CPUs' time that was busy during the run (the whole machine)
    cpu_by_role: dict[str, float] = field(default_factory=dict)  # CPU seconds per container role, as last sampled
    grader_rss: list[int] = field(default_factory=list)  # the grader process alone (no children), every sample


class MemorySampler:
    """Samples memory every `interval_s` in a background thread between `start()` and `stop()`."""

    def __init__(self, client: Any, cache_root: Path, root_pid: int | None, interval_s: float = 0.2) -> None:
        self.client = client
        self.cache_root = str(cache_root)
        self.root_pid = root_pid
        self.interval_s = interval_s
        self.peaks = Peaks()
        self._known: dict[str, str | None] = {}  # container id -> role (None: not ours)
        self._cpu: dict[str, float] = {}  # container id -> CPU seconds at its last sample
        self._sessions: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def start(self) -> MemorySampler:
        """Begin sampling."""
        self._cpu_start = cpu_times()
        self._thread.start()
        return self

    def stop(self) -> Peaks:
        """Stop sampling and return the peaks."""
        self._stop.set()
        self._thread.join()
        for cid, seconds in self._cpu.items():
            role = self._known.get(cid) or "other"
            self.peaks.cpu_by_role[role] = self.peaks.cpu_by_role.get(role, 0.0) + seconds
        busy, total = (end - start for end, start in zip(cpu_times(), self._cpu_start, strict=True))
        self.peaks.cpu_busy = busy / total if total else 0.0
        return self.peaks

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.sample()

    def sample(self) -> None:
        """One sample: add up this run's containers by role and the grader's processes."""
        grader_side = app = 0
        for cid, directory in _container_cgroups():
            role = self._role(cid)
            if role is None:
                continue
            used = _cgroup_usage(directory)
            self.peaks.roles[role] = max(self.peaks.roles.get(role, 0), used)
            seconds = _cgroup_cpu(directory)
            if seconds is not None:
                self._cpu[cid] = max(self._cpu.get(cid, 0.0), seconds)
            if role == "app":
                app += used
            else:
                grader_side += used
        processes = process_tree_rss(self.root_pid) if self.root_pid else 0
        if self.root_pid:
            with contextlib.suppress(OSError, ValueError, IndexError):
                self.peaks.grader_rss.append(int(Path(f"/proc/{self.root_pid}/statm").read_text().split()[1]) * PAGE)
        peaks = self.peaks
        peaks.samples += 1
        peaks.processes = max(peaks.processes, processes)
        peaks.grader_side = max(peaks.grader_side, grader_side + processes)
        peaks.app = max(peaks.app, app)

    def _role(self, cid: str) -> str | None:
        if cid not in self._known:
            self._known[cid] = self._inspect(cid)
        return self._known[cid]

    def _inspect(self, cid: str) -> str | None:
        try:
            attrs = self.client.api.inspect_container(cid)
        except Exception:  # gone already
            return None
        labels = attrs.get("Config", {}).get("Labels") or {}
        if "grader.managed" not in labels:
            return None
        session = labels.get("grader.session", "")
        mounts = [str(m.get("Source", "")) for m in attrs.get("Mounts", [])]
        if any(source.startswith(self.cache_root) for source in mounts):
            self._sessions.add(session)
        elif session not in self._sessions:
            return None
        return str(labels.get("grader.role", "other"))


def cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot, from /proc/stat."""
    fields = [int(value) for value in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields) - idle, sum(fields)


def _container_cgroups() -> list[tuple[str, Path]]:
    found = []
    for pattern in CGROUP_PATTERNS:
        base, _, glob = pattern.rpartition("/")
        root = Path(base)
        if not root.is_dir():
            continue
        for directory in root.glob(glob):
            name = directory.name.removeprefix("docker-").removesuffix(".scope")
            if len(name) == 64 and directory.is_dir():
                found.append((name, directory))
    return found


def _cgroup_usage(directory: Path) -> int:
    """Usage minus inactive file cache, like `docker stats`."""
    try:
        if (directory / "memory.usage_in_bytes").exists():
            usage = int((directory / "memory.usage_in_bytes").read_text())
            stat_key = "total_inactive_file"
        else:
            usage = int((directory / "memory.current").read_text())
            stat_key = "inactive_file"
        stats = dict(line.split() for line in (directory / "memory.stat").read_text().splitlines())
        return max(0, usage - int(stats.get(stat_key, 0)))
    except (OSError, ValueError):
        return 0


def _cgroup_cpu(memory_directory: Path) -> float | None:
    """CPU seconds the container has used so far (its cpuacct cgroup beside the memory one; v2: one directory)."""
    v1 = Path(str(memory_directory).replace("/sys/fs/cgroup/memory/", "/sys/fs/cgroup/cpuacct/", 1))
    try:
        if v1 != memory_directory:
            return int((v1 / "cpuacct.usage").read_text()) / 1e9
        usage = dict(line.split() for line in (memory_directory / "cpu.stat").read_text().splitlines())
        return int(usage["usage_usec"]) / 1e6
    except (OSError, ValueError, KeyError):
        return None


def process_tree_rss(root_pid: int) -> int:
    """Resident memory of a process and all its descendants (bytes)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        fields = text.rsplit(")", 1)[-1].split()
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    total, todo = 0, [root_pid]
    while todo:
        pid = todo.pop()
        with contextlib.suppress(OSError, ValueError, IndexError):  # the process may have just exited
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
        todo.extend(children.get(pid, []))
    return total
