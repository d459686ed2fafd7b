"""Honest points for broken code and for apps that never start (issue 14), in real Docker gradings: a syntax
error lowers the score and is named with file and line; an app that crashes at start-up with an ImportError
is a distinct "did not run" outcome in the CLI, result.json and the reports; the orders-api starter with
`def products(:` appended scores lower than the starter.

The static checks and the terminal's square brackets, without an engine: tests/unit/test_broken_code.py.
"""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from markupsafe import escape

from grader.challenge import load_challenge
from grader.models import GradeResult
from tests.unit.test_broken_code import BROKEN, HINT, IMPORT_ERROR, copy_without, grader


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
    fixes = after.stdout[after.stdout.index("Top fixes"):]
    assert f"Some Python files do not parse (main.py:{line}): fix the syntax errors" in fixes
