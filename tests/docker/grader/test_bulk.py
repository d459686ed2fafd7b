"""Batch grading on the real engine: failures stay isolated, re-runs reuse results, shared images build once,
and Ctrl-C removes the running sandboxes. Only this session's containers are ever looked at (other
test sessions use the same engine): they are the ones that mount this session's cache directory.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from grader.bulk import PlainDisplay, Runner, plan_batch, run_batch
from grader.cache import image_key
from grader.challenge import load_challenge
from grader.engine import Engine
from grader.environments import prepare_wheels, sandbox_target
from grader.models import GradeResult
from grader.paths import cache_root
from grader.resolve import ResolveRequest
from grader.sandbox import images
from grader.sandbox.docker import DockerSandbox
from grader.sandbox.docker_pod import SESSION_LABEL
from grader.toolchain import candidate_tools
from tests.conftest import REPO_ROOT

pytestmark = [pytest.mark.docker, pytest.mark.slow]
SOLUTIONS = REPO_ROOT / "challenges" / "hello-api" / "solutions"
FIXTURES = REPO_ROOT / "tests" / "fixtures" / "submissions"
# Half the default (60 s), so the never-ready app costs less; the reference app must still start within it
# on a loaded machine (it takes about 3 s when idle: ten times that).
STARTUP_S = 30
HEALTH_APP = '''"""Answers 200 on every path: enough to start; the hidden suite fails, which is fine here."""
import os
from http.server import BaseHTTPRequestHandler, HTTPServer


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")


HTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
'''


def short_startup_challenge(tmp_path: Path) -> Path:
    """hello-api with half the default startup timeout, so a hanging app costs less."""
    bundle = tmp_path / "bundle"
    shutil.copytree(REPO_ROOT / "challenges" / "hello-api", bundle, ignore=shutil.ignore_patterns("solutions"))
    manifest = bundle / "challenge.toml"
    text = manifest.read_text().split("[solutions.", 1)[0]
    manifest.write_text(text.replace("memory_mb = 512", f"memory_mb = 512\nstartup_timeout_s = {STARTUP_S}"))
    return bundle


def unbuildable(path: Path) -> Path:
    """A submission whose only requirement does not exist on the index: its app cannot import it."""
    path.mkdir(parents=True)
    (path / "requirements.txt").write_text("grader-test-no-such-package-q7x==1.0\n")
    (path / "Procfile").write_text("web: python app.py\n")
    (path / "app.py").write_text("import grader_test_no_such_package_q7x  # noqa: F401\n")
    return path


def cohort(tmp_path: Path) -> Path:
    folder = tmp_path / "cohort"
    folder.mkdir()
    shutil.copytree(SOLUTIONS / "fastapi-ref", folder / "fastapi-ref")
    shutil.copytree(FIXTURES / "never-ready", folder / "never-ready")
    unbuildable(folder / "unbuildable")
    (folder / "broken.zip").write_bytes(b"this is not a zip archive")
    return folder


def grader_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "grader", *args], capture_output=True, text=True, timeout=900,
                          check=False, env=dict(os.environ))


def our_containers(client: Any) -> list[Any]:
    """Grader containers of this test session: they mount something from this session's cache."""
    root = str(cache_root())
    found = []
    for container in client.containers.list(all=True, filters={"label": "grader.managed"}, ignore_removed=True):
        if any(str(m.get("Source", "")).startswith(root) for m in container.attrs.get("Mounts", [])):
            found.append(container)
    return found


def result(out: Path, name: str) -> GradeResult:
    return GradeResult.model_validate_json((out / name / "result.json").read_text())


def test_a_batch_with_a_hanging_and_an_unbuildable_submission_finishes(docker_client: Any, tmp_path: Path) -> None:
    folder, out = cohort(tmp_path), tmp_path / "out"
    args = ("grade", str(folder), "--challenge", str(short_startup_challenge(tmp_path)), "--sandbox", "docker",
            "--out", str(out), "-j", "2", "--format", "json")
    proc = grader_cli(*args)
    assert proc.returncode == 1, proc.stderr[-3000:]  # the broken archive could not be graded; the rest were
    assert "1 of 4 submission(s) could not be graded" in proc.stderr
    assert "grading 4 submission(s), 2 at a time" in proc.stderr
    good, hanging, broken = result(out, "fastapi-ref"), result(out, "never-ready"), result(out, "broken")
    assert good.status == "graded" and good.app is not None and good.app.started, good.app
    assert hanging.status == "graded" and hanging.app is not None and not hanging.app.started
    assert hanging.app.problem == f"did not start within {STARTUP_S} s: the health path never answered 2xx"
    assert broken.status == "error" and broken.error
    failed_build = result(out, "unbuildable")
    assert failed_build.status == "graded" and failed_build.submission is not None
    assert any(f.rule == "deps.not-installed" and "no project named" in f.message
               for f in failed_build.submission.findings)
    assert failed_build.app is not None and not failed_build.app.started
    assert "exited with code 1" in (failed_build.app.problem or "")
    assert our_containers(docker_client) == []

    again = grader_cli(*args)  # how long a re-run takes is measured by the benchmark, not asserted here
    assert again.returncode == 1, again.stderr[-3000:]
    assert again.stderr.count(": reused in ") == 3, again.stderr[-3000:]
    assert result(out, "fastapi-ref").graded_at == good.graded_at


def test_parallel_gradings_sharing_a_dependency_set_build_its_image_once(docker_client: Any, tmp_path: Path) -> None:
    requirement = "six==1.15.0"  # an old pin nothing else uses, so this test owns the image
    sources = []
    for name in ("first", "second"):
        path = tmp_path / "in" / name
        path.mkdir(parents=True)
        (path / "requirements.txt").write_text(f"{requirement}\n")
        (path / "Procfile").write_text("web: python app.py\n")
        (path / "app.py").write_text(HEALTH_APP + f"# {name}\n")
        sources.append(path)
    challenge = load_challenge(str(short_startup_challenge(tmp_path)))
    lines: list[str] = []
    sandbox = DockerSandbox(python=challenge.python, client=docker_client, log=lines.append)
    tag = image_tag_for(sandbox, [requirement], challenge.python)
    remove_image(docker_client, tag)  # left by an earlier, interrupted run of this test
    try:
        batch = plan_batch(sources, jobs=2)
        run_batch(batch, Runner(challenge, sandbox, tmp_path / "out", True, PlainDisplay(lines.append)),
                  lambda item: None)
        results = [item.result for item in batch.items]
        assert all(r is not None and r.status == "graded" for r in results), [r and r.error for r in results]
        infos = [r.sandbox for r in results if r is not None and r.sandbox is not None]
        assert {info.image for info in infos} == {tag}
        assert sorted(info.environment_reused for info in infos) == [False, True]
        assert sum(line.startswith(f"building {tag} ") for line in lines) == 1, lines
        assert our_containers(docker_client) == []
    finally:
        remove_image(docker_client, tag)


def image_tag_for(sandbox: DockerSandbox, requirements: list[str], python: str) -> str:
    """The environment image tag the pipeline will use for these requirements (to clean it up)."""
    request = ResolveRequest(tuple(requirements), (), candidate_tools(), None,
                             sandbox_target(python, sandbox.wheel_target), None)
    wheels = prepare_wheels(request, None, lambda _: None)
    base = sandbox.engine.image(images.base_image_tag(python))
    assert base is not None
    return f"grader-env:{image_key(base.id, python, wheels.installable)[:20]}"


def remove_image(client: Any, tag: str) -> None:
    if images.image_exists(Engine(client), tag):
        client.images.remove(tag, noprune=False)


def test_ctrl_c_in_a_batch_removes_running_sandboxes_and_keeps_finished_results(
    docker_client: Any, tmp_path: Path
) -> None:
    folder, out = tmp_path / "cohort", tmp_path / "out"
    shutil.copytree(SOLUTIONS / "fastapi-ref", folder / "a-fast")
    shutil.copytree(FIXTURES / "never-ready", folder / "b-hang")
    shutil.copytree(FIXTURES / "never-ready", folder / "c-queued")
    (folder / "c-queued" / "app.py").write_text((folder / "c-queued" / "app.py").read_text() + "# another\n")
    argv = [sys.executable, "-m", "grader", "grade", str(folder), "--challenge", "hello-api", "--sandbox", "docker",
            "--out", str(out), "-j", "1", "--format", "json"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    session = wait_for_hanging_app(docker_client, proc)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=600)  # returns as soon as the batch has cleaned up
    assert proc.returncode == 130, stderr[-3000:]
    assert "interrupted" in stderr and "Traceback" not in stderr
    assert result(out, "a-fast").status == "graded"
    assert not (out / "b-hang" / "result.json").exists()
    assert not (out / "c-queued" / "result.json").exists()
    left = docker_client.containers.list(all=True, filters={"label": f"{SESSION_LABEL}={session}"})
    assert left == [], [c.name for c in left]


def wait_for_hanging_app(client: Any, proc: subprocess.Popen[str]) -> str:
    """The session label of the grading that runs b-hang's app, once its container is up."""
    deadline = time.monotonic() + 900  # ends when the app runs; generous only for a loaded machine
    while time.monotonic() < deadline and proc.poll() is None:
        for container in our_containers(client):
            labels = container.labels
            mounts = json.dumps(container.attrs.get("Mounts", []))
            if labels.get("grader.role") == "app" and "b-hang" in mounts:
                return str(labels[SESSION_LABEL])
        time.sleep(0.2)
    proc.kill()
    raise AssertionError(f"b-hang's app never started: {proc.communicate()[1][-3000:]}")
