"""Honest points for broken code and for apps that never start (issue 14).

- Code that does not parse is failing, not absent: real ruff/mypy/radon runs scored by the default rules.
- Terminal output never swallows text in square brackets (Rich markup), e.g. the `[tool.grader]` hint.
- Real gradings (Docker, where a syntax error is named and an app that crashes at start-up did not run):
  tests/docker/test_broken_code.py.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from grader.candidate_check import render_check
from grader.cli import console as cli_console
from grader.detect import NO_START_COMMAND
from grader.models import CheckRun, Finding, GradeResult
from grader.rules import DEFAULT_RULES
from grader.scoring import score_check_runs
from tests.conftest import REPO_ROOT
from tests.factories import graded_result
from tests.unit.checks.test_common import run_check

BROKEN = REPO_ROOT / "tests" / "fixtures" / "broken-code"
IMPORT_ERROR = REPO_ROOT / "tests" / "fixtures" / "submissions" / "import-error"
CODE_CHECKS = ("lint", "typecheck", "complexity")
HINT = "[tool.grader]"


def grader(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "GITHUB_STEP_SUMMARY"}
    return subprocess.run([sys.executable, "-m", "grader", *args], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=1500, check=False)


def copy_without(source: Path, target: Path, *dropped: str) -> Path:
    shutil.copytree(source, target)
    for rel in dropped:
        (target / rel).unlink()
    return target


# --- static checks, run for real and scored by the default rules --------------------------------------------


def scored_code_checks(submission: Path, out: Path) -> dict[str, tuple[float, float]]:
    """(points, possible) per `check/category` for lint, typecheck and complexity run on `submission`."""
    runs = []
    for check_id in CODE_CHECKS:
        run = run_check(check_id, submission, out / check_id)
        assert run.returncode == 0, run.stderr
        runs.append(CheckRun(id=check_id, status="ok", metrics=run.metrics,
                             findings=[Finding.model_validate(f) for f in run.findings]))
    return {result.id: (result.score, result.max_score) for result in score_check_runs(runs, DEFAULT_RULES)}


def test_python_2_code_earns_no_lint_typecheck_or_complexity_points(tmp_path: Path) -> None:
    scores = scored_code_checks(BROKEN / "python2", tmp_path)
    assert set(scores) == {"lint/python_fundamentals", "lint/observability", "lint/infrastructure",
                           "typecheck/python_fundamentals", "complexity/python_fundamentals"}
    assert all(points == 0 and possible > 0 for points, possible in scores.values()), scores


def test_one_module_that_does_not_parse_lowers_every_code_score(tmp_path: Path) -> None:
    broken = scored_code_checks(BROKEN / "one-broken-module", tmp_path / "broken")
    fixed_copy = copy_without(BROKEN / "one-broken-module", tmp_path / "fixed", "notes/export.py")
    fixed = scored_code_checks(fixed_copy, tmp_path / "fixed-out")
    assert all(points == possible for points, possible in fixed.values()), fixed  # clean code, full points
    for check_id, (points, _) in broken.items():
        assert points < fixed[check_id][0], check_id
    assert broken["lint/python_fundamentals"][1] == fixed["lint/python_fundamentals"][1] + 20  # files_not_parsed


def test_the_deduction_names_the_file_line_and_parser_message(tmp_path: Path) -> None:
    run = run_check("lint", BROKEN / "one-broken-module", tmp_path)
    lint = CheckRun(id="lint", status="ok", metrics=run.metrics,
                    findings=[Finding.model_validate(f) for f in run.findings])
    fundamentals = next(r for r in score_check_runs([lint], DEFAULT_RULES) if r.category == "python_fundamentals")
    deduction = next(d for d in fundamentals.deductions if d.rule == "lint.files_not_parsed")
    assert deduction.points == 20 and "% of the code parses" not in deduction.reason  # lost for the file alone
    (evidence,) = deduction.evidence
    assert (evidence.file, evidence.line) == ("notes/export.py", 14)
    assert evidence.message == "syntax error: closing parenthesis ']' does not match opening parenthesis '('"
    scaled = next(d for d in fundamentals.deductions if d.rule == "lint.python_fundamentals_per_kloc")
    assert "% of the code parses" in scaled.reason and scaled.evidence[0].file == "notes/export.py"


# --- text with square brackets reaches the terminal intact ---------------------------------------------------


def recording_console() -> Console:
    return Console(file=io.StringIO(), width=400, highlight=False, color_system=None, force_terminal=False)


def printed(console: Console) -> str:
    stream = console.file
    assert isinstance(stream, io.StringIO)
    return stream.getvalue()


def no_start_command_result() -> GradeResult:
    result = graded_result("alice[1]", started=False)
    assert result.app is not None
    result.app.problem = f"no start command was found: add {HINT} start to pyproject.toml or a Procfile web: line"
    return result


def test_cli_lines_keep_square_brackets(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    out, err = recording_console(), recording_console()
    monkeypatch.setattr(cli_console, "out", out)
    monkeypatch.setattr(cli_console, "err", err)
    cli_console.print_summary(no_start_command_result(), tmp_path)
    cli_console.progress(f"alice: the app was not started: add {HINT} start")
    with pytest.raises(SystemExit):
        cli_console.fail(f"bad value for {HINT} start")
    shown = printed(out)
    assert f"✗ alice[1]: did not run: The app did not start: no start command was found: add {HINT} start" in shown
    assert "✓" not in shown
    assert f"add {HINT} start" in printed(err) and f"bad value for {HINT} start" in printed(err)


def test_grader_check_keeps_square_brackets(tmp_path: Path) -> None:
    console = recording_console()
    render_check(no_start_command_result(), tmp_path / "result.json", console)
    shown = printed(console)
    assert shown.startswith("✗ Your app did not run: The app did not start: no start command was found: add "
                            f"{HINT} start")
    assert f"fix: {NO_START_COMMAND}" in shown and "alice[1]" in shown


def test_the_live_table_keeps_square_brackets(tmp_path: Path) -> None:
    from grader.bulk import BatchItem, LiveDisplay, plan_batch

    batch = plan_batch([tmp_path / "alice[1]"], 1)
    item: BatchItem = batch.items[0]
    item.state = "done"
    item.result = no_start_command_result()
    console = recording_console()
    display = LiveDisplay(console)
    display.batch = batch
    console.print(display)
    shown = printed(console)
    assert f"✗ did not run (75.5/100): no start command was found: add {HINT} start" in shown
