"""Code that does not parse is failing, not absent: lint, typecheck and complexity, run for real (ruff, mypy,
radon) on submissions with syntax errors and on Python 2 code."""

from __future__ import annotations

from pathlib import Path

import pytest

from checks._common import SourceFile, parse_metrics, parse_sources

from .test_common import REPO_ROOT, run_check

BROKEN = REPO_ROOT / "tests" / "fixtures" / "broken-code"
CODE_CHECKS = ("lint", "typecheck", "complexity")


def test_parse_sources_keeps_the_files_that_do_not_parse_with_their_lines(tmp_path: Path) -> None:
    (tmp_path / "ok.py").write_text("x = 1\ny = 2\n")
    (tmp_path / "py2.py").write_text("# a comment\nprint 'hello'\nz = 3\n")
    (tmp_path / "nul.py").write_bytes(b"\x00")
    sources = parse_sources([SourceFile(tmp_path / name, name) for name in ("ok.py", "py2.py", "nul.py")])
    assert [item.source.rel for item in sources.parsed] == ["ok.py"]
    assert [(item.source.rel, item.line, item.code_lines) for item in sources.unparsed] == [
        ("py2.py", 2, 2), ("nul.py", None, 1)]
    assert "Missing parentheses in call to 'print'" in sources.unparsed[0].message
    assert [(f["file"], f["line"], f["rule"]) for f in sources.problems] == [
        ("py2.py", 2, "syntax-error"), ("nul.py", None, "syntax-error")]
    # 2 parsed lines, 2 + 1 failing ones
    assert parse_metrics(sources) == {"files_not_parsed": 2, "lines_not_parsed": 3, "parsed_share": 40.0}
    assert parse_metrics(parse_sources([]))["parsed_share"] == 100.0


@pytest.mark.parametrize("check_id", CODE_CHECKS)
def test_python_2_code_is_failing_everywhere(check_id: str, tmp_path: Path) -> None:
    run = run_check(check_id, BROKEN / "python2", tmp_path)
    assert run.returncode == 0, run.stderr
    assert (run.metrics["files_not_parsed"], run.metrics["parsed_share"]) == (2, 0)
    assert run.metrics["lines_not_parsed"] > 20
    errors = {(f["file"], f["line"], f["category"]): f["message"] for f in run.findings if f["rule"] == "syntax-error"}
    assert errors[("app.py", 13, "python_fundamentals")] == (
        "syntax error: Missing parentheses in call to 'print'. Did you mean print(...)?")
    assert errors[("store.py", 16, "python_fundamentals")] == (
        "syntax error: multiple exception types must be parenthesized")
    # never "nothing to check", which used to count as clean
    assert not any(f["rule"] == "no-python-files" and f["severity"] == "info" for f in run.findings)


@pytest.mark.parametrize("check_id", CODE_CHECKS)
def test_one_module_that_does_not_parse_among_good_ones(check_id: str, tmp_path: Path) -> None:
    run = run_check(check_id, BROKEN / "one-broken-module", tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.metrics["files_not_parsed"] == 1
    assert run.metrics["lines_not_parsed"] == 8
    assert 80 < run.metrics["parsed_share"] < 90  # 8 of the 47 code lines are in notes/export.py
    assert ("notes/export.py", 14, "syntax-error") in run.located()


def test_a_syntax_error_is_not_also_counted_as_a_lint_finding(tmp_path: Path) -> None:
    run = run_check("lint", BROKEN / "one-broken-module", tmp_path)
    assert run.metrics["python_fundamentals_findings"] == 0 and run.metrics["findings_total"] == 0
