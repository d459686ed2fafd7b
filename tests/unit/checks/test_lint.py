"""checks.lint, run for real (ruff) as the sandbox runs it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from checks.formats import CATEGORY_IDS, LINT_SECRET_RULES
from checks.lint import LINT_CATEGORIES, RULES
from grader.checks.registry import LINT
from grader.checks.spec import CheckContext

from .test_common import (
    BAD,
    FASTAPI_REF,
    GOOD,
    REPO_ROOT,
    assert_crash,
    bare_python,
    readonly,
    run_check,
    snapshot,
)

__all__ = ["readonly"]  # the fixture, imported for pytest


def test_interface_and_rule_table() -> None:
    assert (LINT.id, LINT.runs_in) == ("lint", "tools")
    assert set(LINT_CATEGORIES) == {"python_fundamentals", "observability", "infrastructure"}
    assert LINT.command(CheckContext("/s", "/o"))[:3] == ["python", "-m", "checks.lint"]
    # the host's scoring counts these once with the practices' secrets: they must be lint's, in infrastructure
    assert all(RULES[code][0] == "infrastructure" for code in LINT_SECRET_RULES)
    assert {category for category, _, _ in RULES.values()} == set(LINT_CATEGORIES)
    assert not any(code.startswith("S101") for code in RULES)  # asserts are never findings
    assert all(RULES[code][1] is False for code in RULES if code.startswith(("S", "T")))  # not on tests


def test_good_sample_is_clean(tmp_path: Path) -> None:
    run = run_check("lint", GOOD, tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.metrics["findings_total"] == 0, run.findings
    assert run.metrics["lines"] > 50
    assert run.report is not None and "ruff-unknown-rules" not in run.report["tools"]  # every rule exists


def test_bad_sample_findings_by_category(tmp_path: Path) -> None:
    run = run_check("lint", BAD, tmp_path)
    assert run.returncode == 0, run.stderr
    located = run.located()
    expected = {
        ("app.py", 7, "S105"),      # hard-coded password
        ("app.py", 19, "S608"),     # SQL built with an f-string
        ("app.py", 23, "S602"),     # subprocess shell=True
        ("app.py", 26, "B006"),     # mutable default
        ("app.py", 52, "E722"),     # bare except
        ("app.py", 53, "T201"),     # print
        ("app.py", 59, "ASYNC251"),  # time.sleep in async def
        ("app.py", 67, "ASYNC210"),  # its noqa comment is not honoured
        ("app.py", 72, "T201"),     # its noqa comment is not honoured
        ("broken.py", 1, "syntax-error"),
    }
    assert expected <= located
    by_rule = {item["rule"]: item["category"] for item in run.findings}
    assert (by_rule["S608"], by_rule["T201"], by_rule["E722"]) == (
        "infrastructure", "observability", "python_fundamentals")
    # the candidate's pyproject.toml (extend-exclude = ["*.py"], ignore = ["ALL"]) was not read
    assert run.metrics["infrastructure_findings"] == 4
    assert run.metrics["observability_findings"] == 2
    total = sum(run.metrics[f"{c}_findings"] for c in LINT_CATEGORIES)
    # broken.py's syntax error is counted once, by the parse metrics, not as a lint finding too
    assert run.metrics["findings_total"] == total == len(run.findings) - 1
    assert run.metrics["files_not_parsed"] == 1 and 0 < run.metrics["parsed_share"] < 100
    assert not any((item["file"] or "").startswith("tests/") for item in run.findings)
    assert all(item["category"] in CATEGORY_IDS for item in run.findings)
    assert run.findings == sorted(run.findings, key=lambda f: (f["file"] or "", f["line"] or 0, f["rule"] or ""))


def test_per_kloc_uses_the_lines_each_category_ran_on(tmp_path: Path) -> None:
    submission = tmp_path / "sub"
    (submission / "tests").mkdir(parents=True)
    (submission / "app.py").write_text("import os\nprint('x')\n")
    (submission / "tests" / "test_app.py").write_text(
        "import sys\n\npassword = 'hunter2hunter2'\n\n\ndef test_x():\n    print('debug')\n    assert True\n")
    run = run_check("lint", submission, tmp_path / "out")
    assert run.returncode == 0, run.stderr
    # on tests only the fundamentals rules run: the unused import, not the print or the password
    assert run.located() == {("app.py", 1, "F401"), ("app.py", 2, "T201"), ("tests/test_app.py", 1, "F401")}
    assert run.metrics["lines"] == 7
    assert run.metrics["python_fundamentals_per_kloc"] == round(1000 * 2 / 7, 2)
    assert run.metrics["observability_per_kloc"] == round(1000 * 1 / 2, 2)


def test_fastapi_reference_on_a_read_only_copy(tmp_path: Path, readonly: Callable[[Path], Path]) -> None:
    submission = readonly(FASTAPI_REF)
    before = snapshot(submission)
    run = run_check("lint", submission, tmp_path / "out")
    assert run.returncode == 0, run.stderr
    assert snapshot(submission) == before
    assert run.metrics["findings_total"] == 0, run.findings
    print(f"lint on fastapi-ref: {run.seconds:.2f}s")


def test_deterministic(tmp_path: Path) -> None:
    assert run_check("lint", BAD, tmp_path / "1").raw == run_check("lint", BAD, tmp_path / "2").raw


def test_missing_ruff_is_a_crash(tmp_path: Path) -> None:
    assert_crash(run_check("lint", GOOD, tmp_path, python=bare_python()), "lint", "ruff")


def test_missing_submission_is_a_crash(tmp_path: Path) -> None:
    assert_crash(run_check("lint", tmp_path / "missing", tmp_path), "lint", "not found")


PRACTICE_FIXTURES = REPO_ROOT / "tests" / "fixtures" / "practices"


def test_s105_ignores_string_literal_comparisons(tmp_path: Path) -> None:
    run = run_check("lint", PRACTICE_FIXTURES / "literal-comparison", tmp_path)
    assert run.returncode == 0, run.stderr
    # ruff's S105 flags `if OVERRIDE_TOKEN_EXPIRATION == "TRUE":`; a comparison hard-codes nothing
    assert "S105" not in run.rules()
    assert run.metrics["infrastructure_findings"] == 0


def test_s105_still_flags_a_hard_coded_key(tmp_path: Path) -> None:
    run = run_check("lint", PRACTICE_FIXTURES / "hardcoded-key", tmp_path)
    assert run.returncode == 0, run.stderr
    assert ("app.py", 6, "S105") in run.located()
    assert run.metrics["infrastructure_findings"] == 1
