"""The control channel on the Docker backend: a hidden suite restarts the app (its data kept) and reads its log.
The same on the local backend: tests/network/grader/sandbox/test_control.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from grader.sandbox.docker import DockerSandbox
from tests.conftest import of_this_run
from tests.network.grader.sandbox.test_control import CHALLENGE, assert_hooks_worked, grade

pytestmark = pytest.mark.slow


@pytest.mark.docker
def test_docker_restarts_the_app_with_its_data_and_hands_out_its_log(docker_client: Any, tmp_path: Path) -> None:
    volumes_before = {v.name for v in docker_client.volumes.list(filters=of_this_run())}  # not other gradings'
    tests = grade(DockerSandbox(python=CHALLENGE.python, client=docker_client), tmp_path)
    assert_hooks_worked(tests)
    left = {v.name for v in docker_client.volumes.list(filters=of_this_run())} - volumes_before
    assert not left, f"data volumes left behind: {left}"
