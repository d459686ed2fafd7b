"""Where a run's CPU time went: the grader's containers, the container engine, the grader's own processes.

The checks of a grading run in containers, so a profile of the grader (benchmarks/waits.py) shows only what
its threads wait on, not who burns the CPUs. This takes cumulative counters before and after a run:
- containers: the cpuacct usage of the engine's parent cgroup (`docker/`), which keeps the time of containers
  already removed (every container on the engine: run it on a quiet machine);
- engine: the CPU time of the long-lived `dockerd` and `containerd` processes (a container's shim lives and
  dies with it, so its time lands in "other");
- grader: the time of the benchmark's reaped children (the grader process and what it ran on the host: uv,
  git), read once the grader has exited;
- other: the machine's busy time (/proc/stat) minus the three, the kernel's work for them included.
"""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass
from pathlib import Path

import psutil

CONTAINER_CPU_FILES = (
    Path("/sys/fs/cgroup/cpuacct/docker/cpuacct.usage"),  # v1, cgroupfs driver (nanoseconds)
    Path("/sys/fs/cgroup/cpu,cpuacct/docker/cpuacct.usage"),
    Path("/sys/fs/cgroup/docker/cpu.stat"),  # v2, cgroupfs driver (usage_usec)
)
ENGINE_PROCESSES = frozenset({"dockerd", "containerd"})
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class CpuReading:
    """Cumulative CPU seconds at one moment."""

    busy: float
    containers: float | None  # None: no engine cgroup found (a systemd cgroup driver, another OS)
    engine: float
    children: float


@dataclass(frozen=True)
class CpuSplit:
    """CPU seconds spent between two readings, by where."""

    busy: float
    containers: float | None
    engine: float
    grader: float

    @property
    def other(self) -> float | None:
        if self.containers is None:
            return None
        return max(0.0, self.busy - self.containers - self.engine - self.grader)


def read_cpu() -> CpuReading:
    """The counters now."""
    return CpuReading(machine_busy(), containers_cpu(), engine_cpu(), children_cpu())


def split(before: CpuReading, after: CpuReading) -> CpuSplit:
    """What was spent from `before` to `after`."""
    containers = (after.containers - before.containers
                  if after.containers is not None and before.containers is not None else None)
    return CpuSplit(after.busy - before.busy, containers, after.engine - before.engine,
                    after.children - before.children)


def machine_busy() -> float:
    """Seconds every CPU spent busy since boot (not idle, not waiting for I/O)."""
    fields = [int(value) for value in Path("/proc/stat").read_text().splitlines()[0].split()[1:8]]
    return (sum(fields) - fields[3] - fields[4]) / CLOCK_TICKS


def containers_cpu() -> float | None:
    """Seconds of CPU the engine's containers have used, removed ones included."""
    for path in CONTAINER_CPU_FILES:
        try:
            text = path.read_text()
        except OSError:
            continue
        if path.name == "cpuacct.usage":
            return int(text) / 1e9
        usage = dict(line.split() for line in text.splitlines())
        return int(usage["usage_usec"]) / 1e6
    return None


def engine_cpu() -> float:
    """Seconds of CPU the engine's long-lived daemons have used."""
    total = 0.0
    for process in psutil.process_iter(["name", "cpu_times"]):
        if process.info["name"] in ENGINE_PROCESSES and process.info["cpu_times"] is not None:
            times = process.info["cpu_times"]
            total += times.user + times.system
    return total


def children_cpu() -> float:
    """Seconds of CPU this process's reaped children (and theirs) have used."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime
