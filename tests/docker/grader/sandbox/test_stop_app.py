"""The `stop_app` fixture on the Docker backend: the signal goes to the app's container (and the worker's),
through tini to the start command, which `exec`s the server; the same records as on the local backend
(tests/network/grader/sandbox/test_stop_app.py), and nothing of the run is left behind.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from grader.pipeline import grade_submission
from grader.sandbox.docker import DockerSandbox
from tests.docker.grader.sandbox.test_worker import leftovers
from tests.network.grader.sandbox.test_stop_app import CHALLENGE, SUBMISSION, assert_every_record_was_right, grade

pytestmark = [pytest.mark.slow, pytest.mark.docker]


def test_docker_stop_app_reports_how_requests_in_flight_ended(docker_client: Any, tmp_path: Path) -> None:
    before = leftovers(docker_client)
    assert_every_record_was_right(grade(DockerSandbox(python=CHALLENGE.python, client=docker_client), tmp_path))
    left = leftovers(docker_client) - before
    assert not left, f"left behind: {left}"


def test_docker_a_start_command_without_exec_is_cut_off_by_the_signal(docker_client: Any, tmp_path: Path) -> None:
    """What README warns about: the engine signals the container's init, which passes the signal to the start
    command's shell only; a shell that did not `exec` the server dies of it (143) and takes the server down
    with it, requests unanswered, before the server saw any signal (it printed nothing)."""
    submission = tmp_path / "submission"
    shutil.copytree(SUBMISSION, submission)
    (submission / "Procfile").write_text("web: python app.py\nworker: exec python worker.py\n")
    result = grade_submission(submission, CHALLENGE, DockerSandbox(python=CHALLENGE.python, client=docker_client),
                              tmp_path / "out", log=lambda _: None, force=True)
    assert result.status == "graded", result.error
    graceful = next(test for check in result.checks if check.id.startswith("hidden-tests/") for test in check.tests
                    if test.name == "test_a_graceful_app_finishes_its_requests")
    assert graceful.outcome == "failed"
    assert graceful.message is not None
    assert "exit_code=143" in graceful.message and "log=''" in graceful.message, graceful.message
    assert "requests=['200'" not in graceful.message, graceful.message
