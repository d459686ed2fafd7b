"""`grader check` refuses a project without a challenge in one line; the checks themselves, from an exported
kit, are tests/network/grader/test_check_command.py (local backend) and tests/docker/grader/test_check_command.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from grader.challenge import load_challenge
from grader.models import GradeResult

HELLO_ROOT = Path(load_challenge("hello-api").root)


def grader(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "GITHUB_STEP_SUMMARY"}
    return subprocess.run([sys.executable, "-m", "grader", *args], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=900, check=False)


def read_result(path: Path) -> GradeResult:
    return GradeResult.model_validate_json(path.read_text())


def test_check_without_a_challenge_is_one_line_and_exit_3(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "main.py").write_text("print('hi')\n")
    proc = grader("check", str(project), "--sandbox", "local")
    assert proc.returncode == 3
    assert "no challenge.toml" in proc.stderr and "--challenge" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
