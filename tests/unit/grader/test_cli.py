"""The CLI's contract: one clear line for bad input, exit codes, no lost work in a batch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from grader.models import GradeResult
from tests.conftest import REPO_ROOT

FIXTURES = REPO_ROOT / "tests" / "fixtures" / "submissions"


def grader(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "grader", *args], capture_output=True, text=True, env=env,
                          timeout=600, check=False)


def test_unknown_challenge_is_one_line_and_exit_3(tmp_path: Path) -> None:
    proc = grader("grade", str(tmp_path), "--challenge", "nope", "--sandbox", "local")
    assert proc.returncode == 3
    assert "no challenge 'nope'" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_bad_submission_is_recorded_and_the_batch_goes_on(tmp_path: Path) -> None:
    not_python = tmp_path / "notes"
    not_python.mkdir()
    (not_python / "README.txt").write_text("no code here")
    broken_zip = tmp_path / "broken.zip"
    broken_zip.write_bytes(b"this is not a zip file")
    out = tmp_path / "out"
    proc = grader("grade", str(not_python), str(broken_zip), "--challenge", "hello-api", "--sandbox", "local",
                  "--out", str(out))
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for name in ("notes", "broken"):
        result = GradeResult.model_validate_json((out / name / "result.json").read_text())
        assert result.status == "error" and result.error
    assert "2 of 2 submission(s) could not be graded" in proc.stderr


def test_schema_command_prints_the_published_schema() -> None:
    proc = grader("schema")
    assert json.loads(proc.stdout) == GradeResult.model_json_schema()


def test_challenge_list_shows_hello_api() -> None:
    proc = grader("challenge", "list")
    assert proc.returncode == 0 and "hello-api" in proc.stdout


def without_docker() -> dict[str, str]:
    return {**os.environ, "DOCKER_HOST": "unix:///nonexistent/docker.sock"}


def test_docker_backend_without_engine_is_one_line_and_exit_3(tmp_path: Path) -> None:
    proc = grader("grade", str(FIXTURES / "crashes-at-start"), "--challenge", "hello-api", "--sandbox", "docker",
                  "--out", str(tmp_path), env=without_docker())
    assert proc.returncode == 3
    assert proc.stderr.strip().startswith("error: no Docker engine answers")
    assert "Traceback" not in proc.stderr
    assert not any(tmp_path.iterdir()), "nothing is written when nothing could be graded"
