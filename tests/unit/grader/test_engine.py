"""The engine gateway (`grader.engine`) with a stand-in client: the engine's rare start hiccup cannot be
caused on purpose. Beside the real tests on the engine in tests/docker/grader/test_engine.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from grader.engine import ContainerSpec, Engine, EngineError


class _FlakyContainers:
    """Stands in for the SDK's containers: the first start fails as the engine sometimes does under load."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.runs: list[str] = []
        self.removed: list[str] = []

    def run(self, image: str, command: list[str], **options: Any) -> Any:
        from docker.errors import APIError

        self.runs.append(options["name"])
        if len(self.runs) <= self.failures:
            raise APIError("500", explanation="OCI runtime start failed: container process is already dead")
        return type("Handle", (), {"id": "c1", "name": options["name"]})()

    def get(self, name: str) -> Any:
        removed = self.removed
        return type("Half", (), {"remove": lambda self, **_: removed.append(name)})()


class _FlakyClient:
    def __init__(self, failures: int) -> None:
        self.containers = _FlakyContainers(failures)


def test_a_transient_start_failure_is_tried_again_after_removing_the_half_made_container() -> None:
    """A start that fails as the engine sometimes does under load is tried again, the half-made container gone."""
    client = _FlakyClient(failures=1)
    lines: list[str] = []
    container = Engine(client).run(ContainerSpec("image", ["true"], name="grader-x-app"), log=lines.append)
    assert container.name == "grader-x-app"
    assert client.containers.runs == ["grader-x-app", "grader-x-app"] and client.containers.removed == ["grader-x-app"]
    assert len(lines) == 1 and "trying again" in lines[0]
    with pytest.raises(EngineError, match="OCI runtime start failed"):
        Engine(_FlakyClient(failures=3)).run(ContainerSpec("image", ["true"], name="grader-y-app"))
