"""A test session fails on what its own run left in the engine, and only on that (tests/conftest.py).

Other gradings share the engine: a `grader grade` in another terminal, another test session, a CI job on
the same host. Their containers and volumes look like a grader's (`grader.managed`) but carry another
test run's id, or none. Here such resources are planted beside one of a "leaky" run, and real pytest
sessions (a small unit test file, in a subprocess) are run under each run id.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from grader.sandbox.docker_pod import MANAGED_LABEL
from grader.sandbox.owner import TEST_RUN_LABEL, TEST_RUN_VAR
from tests.conftest import REPO_ROOT, engine_leftovers, skip_or_fail

BASE_TAG = "grader-base:py3.11"
SMALL_SESSION = "tests/unit/grader/test_app_log.py"  # a few seconds, no engine: only the final check matters
SESSION_TIMEOUT_S = 900  # the session takes seconds; this only bounds a hang on a loaded 2-core machine


@pytest.fixture
def planted(docker_client: Any) -> Iterator[dict[str, str]]:
    """A stopped container and a volume for each of: a leaky run, another run, and a grading outside any test
    run. Yields `this`, `other` (run ids) and the marker naming the planted resources."""
    try:
        docker_client.images.get(BASE_TAG)
    except Exception:
        skip_or_fail(f"{BASE_TAG} is not built (grader sandbox bootstrap --offline)")
    marker = uuid.uuid4().hex[:10]
    runs = {"this": f"pytest-leaky-{marker}", "other": f"pytest-other-{marker}", "none": ""}
    try:
        for key, run in runs.items():
            labels = {MANAGED_LABEL: "1", "grader.role": "app", "grader.test": marker}
            if run:
                labels[TEST_RUN_LABEL] = run
            docker_client.containers.create(BASE_TAG, ["true"], name=f"grader-test-{marker}-{key}", labels=labels)
            docker_client.volumes.create(name=f"grader-test-{marker}-{key}-data", labels=labels)
        yield {"this": runs["this"], "other": runs["other"], "marker": marker}
    finally:
        label = {"label": f"grader.test={marker}"}
        for container in docker_client.containers.list(all=True, filters=label):
            container.remove(force=True)
        for volume in docker_client.volumes.list(filters=label):
            volume.remove(force=True)


def session(run: str) -> subprocess.CompletedProcess[str]:
    """A real pytest session of this suite (its conftest and final check) named `run`."""
    env = {**os.environ, TEST_RUN_VAR: run, "PYTHONPATH": os.pathsep.join(filter(None, (
        str(REPO_ROOT), os.environ.get("PYTHONPATH"))))}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", SMALL_SESSION],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=SESSION_TIMEOUT_S,
                          check=False)


@pytest.mark.docker
def test_only_resources_of_the_run_itself_are_its_leftovers(docker_client: Any, planted: dict[str, str]) -> None:
    marker = planted["marker"]
    assert engine_leftovers(docker_client, planted["this"]) == [
        f"container grader-test-{marker}-this", f"volume grader-test-{marker}-this-data"]
    assert engine_leftovers(docker_client, planted["other"]) == [
        f"container grader-test-{marker}-other", f"volume grader-test-{marker}-other-data"]


@pytest.mark.docker
@pytest.mark.slow
def test_a_session_fails_on_its_own_leftover_and_never_on_another_gradings(
    docker_client: Any, planted: dict[str, str],
) -> None:
    clean = session(f"pytest-clean-{planted['marker']}")  # the engine holds the other runs' resources meanwhile
    assert clean.returncode == 0, clean.stdout[-3000:]
    assert "grader resource(s) in the engine" not in clean.stdout

    leaky = session(planted["this"])
    assert leaky.returncode == pytest.ExitCode.TESTS_FAILED, leaky.stdout[-3000:]
    assert f"this test run ({planted['this']}) left 2 grader resource(s) in the engine" in leaky.stdout
    assert f"container grader-test-{planted['marker']}-this" in leaky.stdout
    assert "-other" not in leaky.stdout and "-none" not in leaky.stdout
