"""`grader sandbox cleanup` removes only what a grader that is gone left behind.

Every container and volume carries its grader's host, pid and start time. The decisive test grades two
submissions in two grader processes, kills one with SIGKILL while its app runs, and checks that cleanup
removes the killed one's containers and volume and leaves the running one's alone. Which owner states
there are, without an engine: tests/unit/grader/sandbox/test_owner.py.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from grader.cli import main
from grader.engine import Engine
from grader.sandbox.cleanup import grader_resources, remove_orphans, select
from grader.sandbox.docker_pod import MANAGED_LABEL
from grader.sandbox.owner import OWNER_PID_LABEL, TEST_RUN_LABEL, labels_of_test_run, owner_labels
from tests.conftest import REPO_ROOT, this_test_run
from tests.unit.grader.sandbox.test_owner import labels_for

FIXTURES = REPO_ROOT / "tests" / "fixtures"
BASE_TAG = "grader-base:py3.11"
DEADLINE_S = 900  # waits end on events; this only bounds a hung test on a loaded 2-core machine


@pytest.fixture
def base_image(docker_client: Any) -> str:
    try:
        docker_client.images.get(BASE_TAG)
    except Exception:
        pytest.skip(f"{BASE_TAG} is not built (grader sandbox bootstrap --offline)")
    return BASE_TAG


@pytest.fixture
def planted(docker_client: Any, base_image: str) -> Iterator[dict[str, str]]:
    """Stopped containers and a volume labelled as if by four graders: running (this test), gone (a pid
    that is dead now), on another host, and too old to record an owner. Yields name -> expected state."""
    marker = uuid.uuid4().hex[:10]
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    owners = {
        "running": owner_labels(),
        "gone": labels_for(dead.pid, time.time() - 60),
        "other-host": labels_for(1, 1.0, host="ci-runner-7"),
        "unknown": {},
    }
    expected: dict[str, str] = {}
    try:
        for state, labels in owners.items():
            name = f"grader-test-{marker}-{state}"
            docker_client.containers.create(base_image, ["true"], name=name,
                                            labels={MANAGED_LABEL: "1", "grader.test": marker, **labels,
                                                    **labels_of_test_run()})
            expected[name] = state
        volume = f"grader-test-{marker}-gone-data"
        docker_client.volumes.create(name=volume, labels={MANAGED_LABEL: "1", "grader.test": marker,
                                                          **owners["gone"], **labels_of_test_run()})
        expected[volume] = "gone"
        yield expected
    finally:
        for container in docker_client.containers.list(all=True, filters={"label": f"grader.test={marker}"}):
            container.remove(force=True)
        for volume in docker_client.volumes.list(filters={"label": f"grader.test={marker}"}):
            volume.remove(force=True)


def ours(docker_client: Any, planted: dict[str, str]) -> dict[str, str]:
    """The planted resources still in the engine, with the owner state cleanup sees."""
    return {r.name: r.owner for r in grader_resources(Engine(docker_client)) if r.name in planted}


@pytest.mark.docker
def test_only_resources_of_a_gone_grader_are_orphans(docker_client: Any, planted: dict[str, str]) -> None:
    found = [r for r in grader_resources(Engine(docker_client)) if r.name in planted]
    assert {r.name: r.owner for r in found} == planted
    assert sorted(r.name for r in select(found, everything=False)) == sorted(
        name for name, state in planted.items() if state == "gone")
    assert sorted(r.name for r in select(found, everything=True)) == sorted(planted)


@pytest.mark.docker
def test_a_worker_s_sweep_removes_the_orphans_of_its_own_test_run_only(
    docker_client: Any, planted: dict[str, str], base_image: str,
) -> None:
    """What `grader worker` runs at start and before each grading: under a test run, another session's
    orphans (which its own cleanup test may be looking at) are left alone."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    elsewhere = f"grader-test-{uuid.uuid4().hex[:10]}-other-run"
    docker_client.containers.create(base_image, ["true"], name=elsewhere, labels={
        MANAGED_LABEL: "1", **labels_for(dead.pid, time.time() - 60), TEST_RUN_LABEL: f"{this_test_run()}-other"})
    try:
        removed = {r.name for r in remove_orphans(Engine(docker_client))}
        assert removed & set(planted) == {name for name, state in planted.items() if state == "gone"}
        assert elsewhere not in removed
        assert ours(docker_client, planted) == {n: s for n, s in planted.items() if s != "gone"}
        assert docker_client.containers.get(elsewhere).name == elsewhere
    finally:
        docker_client.containers.get(elsewhere).remove(force=True)


@pytest.mark.docker
def test_cleanup_all_asks_first_and_removes_nothing_on_no(docker_client: Any, planted: dict[str, str]) -> None:
    result = CliRunner().invoke(main, ["sandbox", "cleanup", "--all"], input="n\n")
    assert result.exit_code == 1, result.output
    listed = [line for line in result.stdout.splitlines() if line.startswith("remove: ")]
    for name in planted:
        assert any(f" {name} " in line for line in listed), name
    assert "gradings still running included? [y/N]" in result.stderr
    assert result.stderr.rstrip().endswith("error: nothing was removed")
    assert ours(docker_client, planted) == planted


@pytest.mark.docker
def test_cleanup_removes_the_orphans_and_says_what_it_left(docker_client: Any, planted: dict[str, str]) -> None:
    result = CliRunner().invoke(main, ["sandbox", "cleanup"])
    assert result.exit_code == 0, result.output
    orphans = [name for name, state in planted.items() if state == "gone"]
    for name in orphans:
        assert any(line.startswith("orphaned: ") and f" {name} " in line for line in result.stdout.splitlines())
    assert ours(docker_client, planted) == {n: s for n, s in planted.items() if s != "gone"}
    assert "--all removes them too" in result.stdout


# --- two real gradings, one killed -----------------------------------------------------------------------


def slow_start_challenge(tmp_path: Path) -> Path:
    """hello-api whose app may take 15 minutes to answer: a never-ready app keeps its pod that long."""
    bundle = tmp_path / "bundle"
    shutil.copytree(REPO_ROOT / "challenges" / "hello-api", bundle, ignore=shutil.ignore_patterns("solutions"))
    manifest = bundle / "challenge.toml"
    text = manifest.read_text().split("[solutions.", 1)[0]
    manifest.write_text(text.replace("memory_mb = 512", "memory_mb = 256\nstartup_timeout_s = 900"))
    return bundle


def start_grading(bundle: Path, out: Path) -> subprocess.Popen[str]:
    argv = [sys.executable, "-m", "grader", "grade", str(FIXTURES / "submissions" / "never-ready"), "--challenge",
            str(bundle), "--sandbox", "docker", "--out", str(out), "--format", "json"]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO_ROOT)


def owned_by(docker_client: Any, pid: int) -> set[str]:
    """Names of the containers and volumes whose owner label is `pid`."""
    label = {"label": f"{OWNER_PID_LABEL}={pid}"}
    containers = {f"container {c.name}" for c in docker_client.containers.list(all=True, filters=label)}
    return containers | {f"volume {v.name}" for v in docker_client.volumes.list(filters=label)}


def wait_for_app(docker_client: Any, grading: subprocess.Popen[str]) -> str:
    """The name of the grading's app container once it runs."""
    filters = {"label": [f"{OWNER_PID_LABEL}={grading.pid}", "grader.role=app"], "status": "running"}
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline and grading.poll() is None:
        running = docker_client.containers.list(filters=filters)
        if running:
            return str(running[0].name)
        time.sleep(0.5)
    raise AssertionError(f"the app of grader {grading.pid} never ran (exit {grading.poll()})")


@pytest.mark.docker
@pytest.mark.slow
def test_cleanup_removes_a_killed_gradings_pod_and_spares_a_running_one(
    docker_client: Any, tmp_path: Path,
) -> None:
    bundle = slow_start_challenge(tmp_path)
    killed = start_grading(bundle, tmp_path / "killed")
    running = start_grading(bundle, tmp_path / "running")
    try:
        killed_app = wait_for_app(docker_client, killed)
        running_app = wait_for_app(docker_client, running)
        # a grader started by the suite labels its pod with the suite's run (the leftover check reads it)
        assert docker_client.containers.get(killed_app).labels.get(TEST_RUN_LABEL) == this_test_run()
        killed.send_signal(signal.SIGKILL)
        killed.communicate(timeout=DEADLINE_S)
        left_behind = owned_by(docker_client, killed.pid)
        assert f"container {killed_app}" in left_behind and any(n.startswith("volume ") for n in left_behind)

        result = CliRunner().invoke(main, ["sandbox", "cleanup"])

        assert result.exit_code == 0, result.output
        assert any(line.startswith("orphaned: ") and f" {killed_app} " in line for line in result.stdout.splitlines())
        assert owned_by(docker_client, killed.pid) == set(), "the killed grader's pod is gone"
        assert running.poll() is None, "the running grading goes on"
        assert docker_client.containers.get(running_app).status == "running"
        assert f" {running_app} " not in result.stdout

        running.send_signal(signal.SIGTERM)  # it removes its own pod, as on a cancelled CI job
        _, stderr = running.communicate(timeout=DEADLINE_S)
        assert running.returncode == 130, stderr
        assert owned_by(docker_client, running.pid) == set()
    finally:
        for grading in (killed, running):
            if grading.poll() is None:
                grading.kill()
                grading.communicate()
            for name in owned_by(docker_client, grading.pid):
                kind, _, resource = name.partition(" ")
                getter = docker_client.containers if kind == "container" else docker_client.volumes
                getter.get(resource).remove(force=True)
