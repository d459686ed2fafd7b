"""benchmarks.memory with a real container: its memory and CPU are read from its cgroups, by role."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from benchmarks.memory import MemorySampler
from grader.sandbox.owner import TEST_RUN_LABEL
from tests.conftest import this_test_run
from tests.docker.grader.sandbox.test_images import base_image  # noqa: F401 (a fixture)

BURN = "import time\nend = time.process_time() + 1.5\nwhile time.process_time() < end: pass\ntime.sleep(1)"


def test_a_grader_containers_cpu_and_memory_are_counted_under_its_role(
    docker_client: Any, base_image: str, tmp_path: Path  # noqa: F811
) -> None:
    mounted = tmp_path / "cache" / "runs"
    mounted.mkdir(parents=True)
    sampler = MemorySampler(docker_client, tmp_path / "cache", None, interval_s=0.1).start()
    container = docker_client.containers.run(
        base_image, ["python3", "-c", BURN], detach=True, network_disabled=True,
        labels={"grader.managed": "1", "grader.role": "static-tools", TEST_RUN_LABEL: this_test_run()},
        volumes={str(mounted): {"bind": "/mnt/cache", "mode": "ro"}},
    )
    try:
        container.wait(timeout=120)
        time.sleep(0.3)
    finally:
        container.remove(force=True)
    peaks = sampler.stop()
    assert peaks.roles.get("static-tools", 0) > 0
    # 1.5 s of CPU burnt, then a second asleep so the last samples see all of it (slack for the 0.1 s period).
    assert 1.3 <= peaks.cpu_by_role.get("static-tools", 0.0) <= 3.0, peaks.cpu_by_role
