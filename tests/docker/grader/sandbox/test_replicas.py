"""Replicas on the Docker backend: one app container per replica in the pod's namespace (its own PORT, the
same image, limits, hardening and data volume), behind the runner's round-robin proxy; restarted and removed
together; a replica that dies is evidence. The same on the local backend:
tests/network/grader/sandbox/test_replicas.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from grader.sandbox.docker import DockerSandbox
from tests.conftest import of_this_run
from tests.network.grader.sandbox.test_replicas import (
    CHALLENGE,
    COUNTER,
    SINGLETON,
    assert_dead_replica_is_evidence,
    assert_replicas_ran,
    grade,
)

pytestmark = [pytest.mark.slow, pytest.mark.docker]


def leftovers(docker_client: Any) -> set[str]:
    """This test session's grader containers and volumes (other sessions' are not ours to count)."""
    containers = {c.name for c in docker_client.containers.list(all=True, filters=of_this_run())}
    return containers | {v.name for v in docker_client.volumes.list(filters=of_this_run())}


def test_docker_runs_two_replicas_behind_the_proxy(docker_client: Any, tmp_path: Path) -> None:
    before = leftovers(docker_client)
    assert_replicas_ran(grade(COUNTER, DockerSandbox(python=CHALLENGE.python, client=docker_client), tmp_path))
    left = leftovers(docker_client) - before
    assert not left, f"left behind: {left}"


def test_docker_reports_a_replica_that_dies(docker_client: Any, tmp_path: Path) -> None:
    assert_dead_replica_is_evidence(grade(SINGLETON, DockerSandbox(python=CHALLENGE.python, client=docker_client),
                                          tmp_path))
