"""The worker process on the Docker backend: a container of its own beside the app's (same image, data volume
and limits), restarted and removed with it; a worker that exits early is evidence in the result. The same on
the local backend: tests/network/grader/sandbox/test_worker.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from grader.sandbox.docker import DockerSandbox
from tests.conftest import of_this_run
from tests.network.grader.sandbox.test_worker import (
    CHALLENGE,
    CRASHING,
    WORKING,
    assert_crash_is_evidence,
    assert_worker_ran,
    grade,
)

pytestmark = [pytest.mark.slow, pytest.mark.docker]


def leftovers(docker_client: Any) -> set[str]:
    """This test session's grader containers and volumes (other sessions' are not ours to count)."""
    containers = {c.name for c in docker_client.containers.list(all=True, filters=of_this_run())}
    return containers | {v.name for v in docker_client.volumes.list(filters=of_this_run())}


def test_docker_runs_the_worker_beside_the_app_and_removes_it_with_it(docker_client: Any, tmp_path: Path) -> None:
    before = leftovers(docker_client)
    result = grade(WORKING, DockerSandbox(python=CHALLENGE.python, client=docker_client), tmp_path)
    assert_worker_ran(result)
    left = leftovers(docker_client) - before
    assert not left, f"left behind: {left}"


def test_docker_reports_a_worker_that_exits_early(docker_client: Any, tmp_path: Path) -> None:
    assert_crash_is_evidence(grade(CRASHING, DockerSandbox(python=CHALLENGE.python, client=docker_client), tmp_path))
