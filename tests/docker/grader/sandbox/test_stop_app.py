"""The `stop_app` fixture on the Docker backend: the signal goes to the app's container (and the worker's),
through tini to the start command, which `exec`s the server; the same records as on the local backend
(tests/network/grader/sandbox/test_stop_app.py), and nothing of the run is left behind.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from grader.sandbox.docker import DockerSandbox
from tests.docker.grader.sandbox.test_worker import leftovers
from tests.network.grader.sandbox.test_stop_app import CHALLENGE, assert_every_record_was_right, grade

pytestmark = [pytest.mark.slow, pytest.mark.docker]


def test_docker_stop_app_reports_how_requests_in_flight_ended(docker_client: Any, tmp_path: Path) -> None:
    before = leftovers(docker_client)
    assert_every_record_was_right(grade(DockerSandbox(python=CHALLENGE.python, client=docker_client), tmp_path))
    left = leftovers(docker_client) - before
    assert not left, f"left behind: {left}"
