"""The candidate's own Dockerfile on the Docker backend (`[docker] build = true`): built on the engine with no
network for its RUN steps, its container started as the app is and asked for /health, everything removed after.
On this engine no registry answers: a base image it lacks makes the build "skipped", never the candidate's
failure. The local backend's skip: tests/network/grader/sandbox/test_candidate_image.py; without an engine:
tests/unit/grader/sandbox/test_candidate_image.py.
"""

from __future__ import annotations

import contextlib
import re
import uuid
from pathlib import Path
from typing import Any

import pytest

from grader.engine import Engine
from grader.models import GradeResult
from grader.pipeline import grade_submission
from grader.sandbox.candidate_image import IMAGE_REPOSITORY, run_candidate_build
from grader.sandbox.cleanup import CANDIDATE_IMAGE_ROLE, remove_orphans
from grader.sandbox.docker import DockerSandbox
from grader.sandbox.docker_pod import Launcher
from grader.sandbox.images.building import build_context
from grader.sandbox.owner import OWNER_STARTED_LABEL
from tests.conftest import of_this_run
from tests.network.grader.sandbox.test_candidate_image import CHALLENGE, SUBMISSIONS, image_result

ABSENT_BASE = "python:3.11-slim"
LOCAL_BASE = "grader-base:py3.11"
pytestmark = [pytest.mark.slow, pytest.mark.docker]


def left_over(docker_client: Any) -> list[str]:
    """This test session's containers, and every candidate image (none may outlive its grading)."""
    containers = [c.name for c in docker_client.containers.list(all=True, filters=of_this_run())]
    images = [tag for image in docker_client.images.list(name=IMAGE_REPOSITORY) for tag in image.tags]
    return containers + images


def grade(fixture: str, docker_client: Any, tmp_path: Path) -> GradeResult:
    before = left_over(docker_client)
    sandbox = DockerSandbox(python=CHALLENGE.python, client=docker_client)
    result = grade_submission(SUBMISSIONS / fixture, CHALLENGE, sandbox, tmp_path, log=lambda _: None, force=True)
    assert set(left_over(docker_client)) - set(before) == set()
    return result


def test_a_dockerfile_on_a_base_image_the_engine_has_is_built_started_and_answers(
    docker_client: Any, tmp_path: Path
) -> None:
    """Its RUN step fails unless the loopback is the only interface: the build passing proves no network."""
    base_id = docker_client.images.get(LOCAL_BASE).id
    image = image_result(grade("dockerfile-local-base", docker_client, tmp_path))
    assert image.status == "passed", image.findings
    assert image.summary == "built; its container started and answered /health"
    assert docker_client.images.get(LOCAL_BASE).id == base_id  # the shared base image is untouched


def test_a_base_image_the_engine_cannot_get_is_skipped_not_the_candidates_failure(
    docker_client: Any, tmp_path: Path
) -> None:
    present = [image for image in docker_client.images.list(name="python") if ABSENT_BASE in image.tags]
    if present:
        pytest.skip(f"{ABSENT_BASE} is on this engine: the test needs an engine without it")
    result = grade("dockerfile-absent-base", docker_client, tmp_path)
    image = image_result(result)
    assert image.status == "skipped"
    assert re.match(rf"not built: base image unavailable \(Step 1/\d+ : FROM {re.escape(ABSENT_BASE)}: .+\)$",
                    image.summary), image.summary
    assert [f.severity for f in image.findings] == ["info"]
    assert not any(ABSENT_BASE in image.tags for image in docker_client.images.list(name="python"))  # not pulled


@pytest.mark.parametrize(("fixture", "summary", "log_says"), [
    ("dockerfile-broken-build", "the Dockerfile did not build (the step exited with code 3).",
     "installing the service"),
    ("dockerfile-exits", "built, but its container exited with code 1", "missing configuration: SECRET_KEY"),
])
def test_a_dockerfile_that_does_not_build_or_start_is_a_finding_worth_no_points(
    fixture: str, summary: str, log_says: str, docker_client: Any, tmp_path: Path
) -> None:
    image = image_result(grade(fixture, docker_client, tmp_path))
    assert (image.status, image.summary) == ("failed", summary)
    assert image.findings[0].file == "Dockerfile" and image.findings[0].severity == "warning"
    assert any(log_says in f.message for f in image.findings), image.findings


def test_a_candidate_image_whose_grader_is_gone_is_removed_as_an_orphan(docker_client: Any) -> None:
    """A grader killed during the smoke check leaves the image: `remove_orphans` (what `grader sandbox cleanup`
    and a worker run) removes it by its labels, and nothing of the base image it was built on."""
    engine = Engine(docker_client)
    base_id = docker_client.images.get(LOCAL_BASE).id
    run = f"orphan-{uuid.uuid4().hex[:8]}"
    tag = f"{IMAGE_REPOSITORY}:{run}"
    labels = {**Launcher(engine, run, "session", lambda _: None).labels(CANDIDATE_IMAGE_ROLE),
              OWNER_STARTED_LABEL: "1.000"}  # this pid, started at another time: its grader is gone
    dockerfile = f"FROM {LOCAL_BASE}\nLABEL purpose=orphan-test\n".encode()
    with build_context(dockerfile) as context:
        run_candidate_build(engine, context, tag, labels, 256, [], lambda _: None)
    try:
        removed = remove_orphans(engine)
        assert ("image", tag) in {(r.kind, r.name) for r in removed}
        assert engine.image(tag) is None
        assert docker_client.images.get(LOCAL_BASE).id == base_id
    finally:
        with contextlib.suppress(Exception):
            engine.remove_image(tag)
