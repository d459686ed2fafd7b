"""What the benchmark ran on: CPUs, memory, kernel, Docker, load (other work on the machine skews figures)."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

from grader import __version__


@dataclass(frozen=True)
class Machine:
    """A description of the host, for docs/performance.md."""

    cpus: int
    cpu_model: str
    memory_gib: float
    kernel: str
    python: str
    docker: str
    storage_driver: str
    cgroup: str
    grader: str
    tools: str

    def lines(self) -> list[str]:
        """Markdown bullet lines."""
        return [
            f"- CPUs (`nproc`): {self.cpus} ({self.cpu_model})",
            f"- Memory: {self.memory_gib:.1f} GiB",
            f"- Kernel: {self.kernel}; Python {self.python}",
            f"- Docker: {self.docker}, storage driver {self.storage_driver}, cgroup {self.cgroup}",
            f"- grader {self.grader}; {self.tools}",
        ]


def describe(client: Any) -> Machine:
    """Collect the machine description (Docker details from the engine itself)."""
    info = client.info()
    engine = client.version()
    return Machine(
        cpus=len(os.sched_getaffinity(0)),
        cpu_model=_cpu_model(),
        memory_gib=_meminfo("MemTotal") / 1024**3,
        kernel=platform.release(),
        python=platform.python_version(),
        docker=f"{engine.get('Version', '?')} (API {engine.get('ApiVersion', '?')})",
        storage_driver=str(info.get("Driver", "?")),
        cgroup=f"v{info.get('CgroupVersion', '?')} ({info.get('CgroupDriver', '?')})",
        grader=__version__,
        tools=", ".join(f"{name} {version(name)}" for name in ("mypy", "ruff", "radon", "pytest", "coverage")),
    )


@dataclass(frozen=True)
class EngineCosts:
    """Fixed costs of the engine itself, measured: what every container of a grading pays."""

    container_s: float  # `docker run` of /bin/true, waited for and removed
    stats_s: float  # a second one-shot stats call on a running container


def engine_costs(client: Any, image: str, repeats: int = 3) -> EngineCosts:
    """Median container lifecycle and one-shot stats latency on this engine."""
    import statistics
    import time

    lifecycles = []
    for _ in range(repeats):
        started = time.perf_counter()
        container = client.containers.run(image, ["/bin/true"], detach=True, network_mode="none",
                                          labels={"grader.benchmark": "probe"})
        container.wait(timeout=60)
        container.remove(force=True)
        lifecycles.append(time.perf_counter() - started)
    sleeper = client.containers.run(image, ["sleep", "30"], detach=True, network_mode="none",
                                    labels={"grader.benchmark": "probe"})
    try:
        sleeper.stats(stream=False, one_shot=True)
        started = time.perf_counter()
        sleeper.stats(stream=False, one_shot=True)
        stats = time.perf_counter() - started
    finally:
        sleeper.remove(force=True)
    return EngineCosts(statistics.median(lifecycles), stats)


def load_average() -> tuple[float, float, float]:
    """The 1, 5 and 15 minute load averages."""
    return os.getloadavg()


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _meminfo(field: str) -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    return 0
