"""Honest points for broken code and for apps that never start (issue 14).

- Code that does not parse is failing, not absent: real ruff/mypy/radon runs scored by the default rules.
- Terminal output never swallows text in square brackets (Rich markup), e.g. the `[tool.grader]` hint.
- Real gradings (Docker): a syntax error lowers the score and is named with file and line; an app that
  crashes at start-up with an ImportError is a distinct "did not run" outcome in the CLI, result.json and
  the reports; the orders-api starter with `def products(:` appended scores lower than the starter.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from markupsafe import escape
from rich.console import Console

from grader import cli
from grader.candidate_check import render_check
from grader.challenge import load_challenge
from grader.detect import NO_START_COMMAND
from grader.models import CheckRun, Finding, GradeResult
from grader.rules import DEFAULT_RULES
from grader.scoring import score_check_runs

from .checks.test_common import run_check
from .conftest import REPO_ROOT
from .reports.factories import graded_result

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
    monkeypatch.setattr(cli, "out", out)
    monkeypatch.setattr(cli, "err", err)
    cli.print_summary(no_start_command_result(), tmp_path)
    cli.progress(f"alice: the app was not started: add {HINT} start")
    with pytest.raises(SystemExit):
        cli.fail(f"bad value for {HINT} start")
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


# --- real gradings (Docker) ----------------------------------------------------------------------------------


def read(out: Path, name: str) -> GradeResult:
    return GradeResult.model_validate_json((out / name / "result.json").read_text())


def summary_lines(stdout: str, name: str) -> list[str]:
    """The summary line of `name` and the lines indented under it."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line[2:].startswith(f"{name}:"))
    rest = [line for line in lines[start + 1:]]
    follow = [line for line in rest[: next((i for i, line in enumerate(rest) if not line.startswith("  ")), len(rest))]]
    return [lines[start], *follow]


@pytest.fixture(scope="module")
def broken_gradings(tmp_path_factory: pytest.TempPathFactory, docker_client: Any) -> tuple[Path, str]:
    """One `grader grade` batch (Docker, every report format): a module that does not parse among good ones,
    the same project without it, an app that dies at start-up with an ImportError, an app module that does
    not parse, and a project with no app at all."""
    base = tmp_path_factory.mktemp("broken-code")
    fixed = copy_without(BROKEN / "one-broken-module", base / "one-module-fixed", "notes/export.py")
    no_app = base / "no-app"
    shutil.copytree(IMPORT_ERROR, no_app)
    (no_app / "main.py").write_text('"""Not an app: a script."""\n\nprint("hello")\n')
    out = base / "out"
    proc = grader("grade", str(BROKEN / "one-broken-module"), str(fixed), str(IMPORT_ERROR),
                  str(BROKEN / "unparsable-app"), str(no_app), "--challenge", "hello-api", "--sandbox", "docker",
                  "--out", str(out), "--format", "json,html,md,junit", "-j", "2")
    assert proc.returncode == 0, proc.stderr[-4000:]  # graded, whatever the apps did
    assert "Traceback" not in proc.stderr
    return out, proc.stdout


@pytest.mark.slow
@pytest.mark.docker
def test_a_syntax_error_lowers_the_grade_and_is_named(broken_gradings: tuple[Path, str]) -> None:
    out, _ = broken_gradings
    broken, fixed = read(out, "one-broken-module"), read(out, "one-module-fixed")
    assert broken.outcome == fixed.outcome == "ran"  # nothing imports the broken module: the app runs
    assert broken.overall is not None and fixed.overall is not None and broken.overall < fixed.overall
    deduction = next(d for c in broken.checks for d in c.deductions if d.rule == "lint.files_not_parsed")
    assert [(e.file, e.line) for e in deduction.evidence] == [("notes/export.py", 14)]
    assert "does not match opening parenthesis" in deduction.evidence[0].message
    html = (out / "one-broken-module" / "report.html").read_text()
    assert "notes/export.py:14" in html and "lint.files_not_parsed" in html


@pytest.mark.slow
@pytest.mark.docker
def test_an_app_that_crashes_at_start_did_not_run(broken_gradings: tuple[Path, str]) -> None:
    out, stdout = broken_gradings
    reason = "ImportError: cannot import name 'DATABASE_PATH' from 'settings' (settings.py)"
    first, *rest = summary_lines(stdout, "import-error")
    assert first.startswith("✗ import-error: did not run: The app did not start: ") and reason in first, stdout
    assert rest and "the categories the hidden tests measure counted as 0" in rest[0]

    result = read(out, "import-error")
    assert result.status == "graded" and result.outcome == "did_not_run" and result.did_not_run
    assert result.app is not None and not result.app.started and reason in (result.app.problem or "")
    zeroed = {c.id for c in result.categories if c.counts_as_zero}
    assert zeroed == {"api_design", "databases", "observability"}  # hello-api's hidden tests are there
    assert result.evaluated_weight == 50.0
    static_only = sum(c.weight * (c.score or 0) for c in result.categories if c.evaluated) / 100
    assert result.overall == round(static_only, 1)
    assert result.review is not None and result.review.concerns[0].startswith("The app did not start")

    html = (out / "import-error" / "report.html").read_text()
    lead = html.index('id="did-not-run"')
    assert lead < html.index("hero-card") and "Did not run" in html
    assert escape(reason) in html
    summary = (out / "import-error" / "summary.md").read_text()
    assert summary.startswith("### import-error: did not run · ")
    case = ET.parse(out / "import-error" / "junit.xml").getroot().find("testsuite/testcase")
    assert case is not None and case.get("name") == "app"
    failure = case.find("failure")
    assert failure is not None and "did not run" in (failure.get("message") or "")
    index = (out / "index.html").read_text()
    assert index.index('id="did-not-run"') < index.index('id="leaderboard"')


@pytest.mark.slow
@pytest.mark.docker
def test_an_app_module_that_does_not_parse_is_the_reason_not_a_missing_command(
    broken_gradings: tuple[Path, str],
) -> None:
    out, stdout = broken_gradings
    problem = "main.py:12 does not parse ('(' was never closed), so no app could be found in it"
    result = read(out, "unparsable-app")
    assert result.outcome == "did_not_run" and result.app is not None and result.app.problem == problem
    assert result.submission is not None
    assert [(f.file, f.line, f.rule) for f in result.submission.findings if f.rule == "detect.unparsable"] == [
        ("main.py", 12, "detect.unparsable")]
    assert "no start command" not in json.dumps(result.model_dump(mode="json"))
    first = summary_lines(stdout, "unparsable-app")[0]
    assert first.startswith(f"✗ unparsable-app: did not run: The app did not start: {problem}")
    assert escape(problem) in (out / "unparsable-app" / "report.html").read_text()


@pytest.mark.slow
@pytest.mark.docker
def test_the_no_start_command_hint_reaches_the_terminal_intact(broken_gradings: tuple[Path, str]) -> None:
    _, stdout = broken_gradings
    first = summary_lines(stdout, "no-app")[0]
    assert f"add {HINT} start to pyproject.toml or a Procfile web: line" in first


@pytest.mark.slow
@pytest.mark.docker
def test_a_syntax_error_in_the_orders_api_starter_lowers_its_check_score(tmp_path: Path, docker_client: Any) -> None:
    starter = Path(load_challenge("orders-api").root) / "starter"
    broken = tmp_path / "starter-broken"
    shutil.copytree(starter, broken)
    with (broken / "main.py").open("a") as main:
        main.write("def products(:\n")
    line = len((broken / "main.py").read_text().splitlines())
    out = tmp_path / "out"
    before = grader("check", str(starter), "--challenge", "orders-api", "--sandbox", "docker", "--out", str(out))
    after = grader("check", str(broken), "--challenge", "orders-api", "--sandbox", "docker", "--out", str(out))
    assert before.returncode == 0 and after.returncode == 0, after.stderr[-3000:]
    clean, dirty = read(out, "starter"), read(out, "starter-broken")
    assert clean.overall is not None and dirty.overall is not None
    assert dirty.overall < clean.overall, (clean.overall, dirty.overall)
    assert dirty.outcome == "did_not_run" and clean.outcome == "ran"
    named = {(f.file, f.line) for c in dirty.checks for d in c.deductions for f in d.evidence
             if f.rule == "syntax-error"}
    assert ("main.py", line) in named
    assert after.stdout.startswith("✗ Your app did not run: ")
    assert f"SyntaxError: invalid syntax (main.py:{line})" in after.stdout.splitlines()[0]
    assert f"fix: fix the syntax error at main.py:{line}" in after.stdout
