"""The engine gateway (`grader.engine`) on the real engine: every container hardened, errors translated.

Containers and volumes made here carry a `grader.test` label of their own (not the grader's `grader.managed`,
so no other session's leftover check counts them) and are removed whatever happens.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from grader.engine import ContainerSpec, Engine, EngineError
from tests.conftest import skip_or_fail

BASE_TAG = "grader-base:py3.11"
GENEROUS_S = 300  # a container that prints three lines; only a hang reaches it


@pytest.fixture
def engine(docker_client: Any) -> Engine:
    if not docker_client.images.list(name=BASE_TAG):
        skip_or_fail(f"{BASE_TAG} is missing: run `grader sandbox bootstrap`")
    return Engine(docker_client)


@pytest.fixture
def marker(docker_client: Any) -> Iterator[str]:
    """A label value of this test's own; whatever carries it is removed afterwards."""
    value = uuid.uuid4().hex[:12]
    yield value
    label = {"label": f"grader.test={value}"}
    for container in docker_client.containers.list(all=True, filters=label):
        container.remove(force=True, v=True)
    for volume in docker_client.volumes.list(filters=label):
        volume.remove(force=True)


PROBE = ("id -u; (touch /probe 2>/dev/null && echo root-writable) || echo root-read-only; "
         "grep -E '^(CapEff|NoNewPrivs):' /proc/self/status")


@pytest.mark.docker
def test_every_container_is_hardened_whatever_the_spec_asks(engine: Engine, marker: str) -> None:
    spec = ContainerSpec(BASE_TAG, ["/bin/sh", "-c", PROBE], name=f"engine-test-{marker}",
                         labels={"grader.test": marker}, memory_mb=64, no_swap=True, pids=16, cpus=0.5)
    container = engine.run(spec)
    assert container.wait(GENEROUS_S) == 0, container.logs()
    lines = container.logs().split()
    assert lines[:2] == ["10001", "root-read-only"]
    assert "0000000000000000" in lines and lines[-1] == "1"  # no capabilities, no new privileges
    host = engine.containers(f"grader.test={marker}")[0]
    assert host.name == f"engine-test-{marker}" and host.labels["grader.test"] == marker


@pytest.mark.docker
def test_limits_and_log_cap_reach_the_engine(engine: Engine, marker: str, docker_client: Any) -> None:
    spec = ContainerSpec(BASE_TAG, ["true"], name=f"engine-test-{marker}", labels={"grader.test": marker},
                         memory_mb=64, no_swap=True, pids=16, cpus=0.5, log_max="64k", network="none")
    container = engine.run(spec)
    container.wait(GENEROUS_S)
    config = docker_client.containers.get(container.id).attrs["HostConfig"]
    assert (config["Memory"], config["MemorySwap"], config["PidsLimit"], config["NanoCpus"]) == (
        64 * 2**20, 64 * 2**20, 16, 500_000_000)
    assert (config["ReadonlyRootfs"], config["CapDrop"], config["SecurityOpt"]) == (
        True, ["ALL"], ["no-new-privileges"])
    assert config["LogConfig"] == {"Type": "json-file", "Config": {"max-file": "1", "max-size": "64k"}}
    assert config["NetworkMode"] == "none"


@pytest.mark.docker
def test_engine_errors_become_engine_errors_that_say_what_was_missing(engine: Engine, marker: str) -> None:
    assert engine.image(f"grader-test-no-such-image:{marker}") is None
    with pytest.raises(EngineError) as caught:
        engine.remove_image(f"grader-test-no-such-image:{marker}")
    assert caught.value.missing and "no-such-image" in caught.value.explanation
    container = engine.run(ContainerSpec(BASE_TAG, ["true"], name=f"engine-test-{marker}",
                                         labels={"grader.test": marker}))
    container.wait(GENEROUS_S)
    container.remove()
    with pytest.raises(EngineError) as gone:
        container.remove()
    assert gone.value.missing
    assert container.state() == {"Status": "exited", "ExitCode": None}  # a container that is gone reads as exited
    assert container.logs() == "" and container.wait(1) is None
    container.discard()  # teardown never raises


@pytest.mark.docker
def test_volumes_are_made_listed_and_removed_by_label(engine: Engine, marker: str) -> None:
    volume = engine.create_tmpfs_volume(f"engine-test-{marker}", "size=1m,uid=10001", {"grader.test": marker})
    assert [v.name for v in engine.volumes(f"grader.test={marker}")] == [volume.name]
    assert volume.labels == {"grader.test": marker}
    volume.remove()
    assert engine.volumes(f"grader.test={marker}") == []


