"""`grader check` refuses a project without a challenge in one line; the checks themselves, from an exported
kit, are tests/network/grader/test_check_command.py (local backend) and tests/docker/grader/test_check_command.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from grader.candidate_check import render_check, write_check_report
from grader.challenge import load_challenge
from grader.cli import console
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


BUILD_LINES = ("building grader-env:abc from grader-base:py3.11", "Step 1/14 : FROM grader-base:py3.11",
               "Step 2/14 : RUN pip install --no-index /wheels/*")


def test_image_build_lines_turn_a_spinner_not_the_candidates_scrollback(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(console, "settings", console.OutputSettings())
    with console.SpinnerProgress(console.err, "checking starter against hello-api") as log:
        for line in BUILD_LINES:
            log(line)
    captured = capsys.readouterr()
    assert "Step" not in captured.err + captured.out and "building" not in captured.err


def test_verbose_shows_every_build_line(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(console, "settings", console.OutputSettings(verbose=True))
    with console.SpinnerProgress(console.err, "checking starter against hello-api") as log:
        for line in BUILD_LINES:
            log(line)
    shown = capsys.readouterr().err
    assert all(line in shown for line in BUILD_LINES)


def test_the_check_summary_ends_with_the_html_report_it_wrote(tmp_path: Path) -> None:
    from tests.unit.grader.test_losses import golden_result

    result = golden_result("fastapi-flawed")
    report = write_check_report(result, tmp_path / "fastapi-flawed")
    recorder = Console(record=True, width=200, color_system=None)
    render_check(result, tmp_path / "fastapi-flawed" / "result.json", recorder, report)
    assert recorder.export_text().strip().splitlines()[-1] == f"Report: {report}"
    page = report.read_text()
    assert "Candidate feedback" in page and "main.py:18" in page
