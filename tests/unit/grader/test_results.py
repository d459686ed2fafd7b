"""What a result knows about itself is on the models (`grader.models`), and `result.json` is written and read
by one module (`grader.results`): the numbers the terminal, the batch table, `challenge validate` and the
reports show come from one definition, and a test reads the package to keep it that way."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.models import (
    CATEGORY_IDS,
    HIDDEN_SUITE,
    PUBLIC_SUITE,
    CheckResult,
    CheckStatus,
    GradeResult,
    category_title,
)
from grader.results import (
    RESULT_FILE,
    LoadedResult,
    ResultFileError,
    find_result_files,
    load_result,
    previous_result,
    read_result,
    result_json,
    write_result,
)
from tests import factories
from tests.conftest import REPO_ROOT
from tests.factories import error_result, graded_result, static_checks

GRADER_DIR = REPO_ROOT / "grader"


def suite_check(suite: str, category: str, outcomes: list[str]) -> CheckResult:
    tests = [factories.test_case(f"test_{category}_{index}", category, outcome)
             for index, outcome in enumerate(outcomes)]
    return CheckResult(id=f"{suite}/{category}", category=category, status=CheckStatus.FAILED, score=0,
                       max_score=0, tests=tests)


def with_checks(checks: list[CheckResult]) -> GradeResult:
    return graded_result().model_copy(update={"checks": [*static_checks(), *checks]})


# --- the models ---------------------------------------------------------------------------------------------


def test_hidden_totals_count_passed_of_run_and_leave_skipped_tests_out() -> None:
    result = with_checks([suite_check(HIDDEN_SUITE, "api_design", ["passed", "failed", "skipped"]),
                          suite_check(HIDDEN_SUITE, "databases", ["passed", "error", "passed"])])
    assert result.hidden_totals() == result.test_totals() == (3, 5)
    assert [t.outcome for t in result.failed_tests()] == ["failed", "error"]
    assert len(result.suite_tests()) == 6  # skipped verdicts are still verdicts


def test_public_suite_is_told_apart_from_the_hidden_one() -> None:
    result = with_checks([suite_check(PUBLIC_SUITE, "api_design", ["passed", "failed"])])
    assert result.test_totals(PUBLIC_SUITE) == result.test_totals() == (1, 2)
    assert result.hidden_totals() == (0, 0)
    assert [c.suite for c in result.checks] == [None, None, None, PUBLIC_SUITE]


def test_a_suite_that_could_not_run_is_still_the_suite() -> None:
    crashed = CheckResult(id=HIDDEN_SUITE, category="uncategorized", status=CheckStatus.ERROR, score=0, max_score=0)
    lookalike = CheckResult(id="hidden-tests-extra/x", category="testing", status=CheckStatus.PASSED, score=1,
                            max_score=1)
    assert crashed.suite == HIDDEN_SUITE and lookalike.suite is None


def test_every_category_has_a_title() -> None:
    assert [category_title(c) for c in CATEGORY_IDS] == [
        "Python fundamentals", "API design", "Databases", "Testing", "Infrastructure", "Observability"]
    assert category_title("made_up") == "Made up"


# --- result.json ---------------------------------------------------------------------------------------------


def test_written_result_reads_back_equal(tmp_path: Path) -> None:
    result = graded_result("alice")
    path = write_result(result, tmp_path / "alice")
    assert path == tmp_path / "alice" / RESULT_FILE
    assert path.read_text(encoding="utf-8") == result_json(result)
    assert read_result(path) == result and previous_result(tmp_path / "alice") == result
    assert type(previous_result(tmp_path / "alice")) is GradeResult  # compared as equal to a fresh result
    assert [p.name for p in (tmp_path / "alice").iterdir()] == [RESULT_FILE]  # no temporary file is left


def test_a_loaded_result_is_copied_byte_for_byte(tmp_path: Path) -> None:
    original = tmp_path / "graded" / RESULT_FILE
    original.parent.mkdir()
    data = json.loads(result_json(graded_result("alice")))
    data["written_by_a_newer_grader"] = True  # a field this grader does not know survives a re-render
    original.write_text(json.dumps(data), encoding="utf-8")
    loaded = load_result(original)
    assert isinstance(loaded, LoadedResult) and loaded.origin == original
    copy = write_result(loaded, tmp_path / "reports")
    assert copy.read_bytes() == original.read_bytes()
    assert write_result(loaded, original.parent) == original and original.read_text() == json.dumps(data)


def test_unreadable_results_are_one_sentence_naming_the_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken" / RESULT_FILE
    broken.parent.mkdir()
    broken.write_text('{"status": "graded"}')
    invalid = rf"{re.escape(str(broken))}: not a valid result\.json: .* \(and \d+ more\)"
    with pytest.raises(ResultFileError, match=invalid):
        read_result(broken)
    with pytest.raises(ResultFileError, match="no such file or directory"):
        find_result_files(tmp_path / "missing")
    with pytest.raises(ResultFileError, match=r"no result\.json found in this directory"):
        find_result_files(_empty(tmp_path))
    assert previous_result(broken.parent) is None and previous_result(tmp_path / "missing") is None


def _empty(tmp_path: Path) -> Path:
    empty = tmp_path / "empty"
    empty.mkdir()
    return empty


def test_result_files_are_found_in_a_directory_tree(tmp_path: Path) -> None:
    for name in ("bob", "alice"):
        write_result(graded_result(name), tmp_path / "out" / name)
    write_result(error_result(), tmp_path / "out" / "nested" / "carol")
    found = find_result_files(tmp_path / "out")
    assert [p.parent.name for p in found] == ["alice", "bob", "carol"]
    assert find_result_files(tmp_path / "out" / "bob") == [tmp_path / "out" / "bob" / RESULT_FILE]


# --- one definition: read from the package's code ------------------------------------------------------------


def modules() -> Iterator[tuple[str, ast.Module]]:
    for path in sorted(GRADER_DIR.rglob("*.py")):
        yield str(path.relative_to(REPO_ROOT)), ast.parse(path.read_text(encoding="utf-8"))


def code_strings(tree: ast.Module) -> Iterator[str]:
    """Every string constant of the code, f-string parts included; docstrings are prose, not code."""
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
                  and node.body and isinstance(node.body[0], ast.Expr)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            yield node.value


def counts_outcomes(tree: ast.Module) -> bool:
    """Whether a `sum(...)` or `len(...)` looks at test outcomes: counting verdicts by hand."""
    return any(isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("sum", "len")
               and any(isinstance(inner, ast.Attribute) and inner.attr == "outcome"
                       for arg in node.args for inner in ast.walk(arg))
               for node in ast.walk(tree))


def parses_results(tree: ast.Module) -> bool:
    """Whether the module validates or parses a GradeResult itself (`GradeResult.model_validate_json(...)`)."""
    return any(isinstance(node, ast.Attribute) and node.attr.startswith("model_validate")
               and isinstance(node.value, ast.Name) and node.value.id in ("GradeResult", "LoadedResult")
               for node in ast.walk(tree))


def test_only_grader_results_names_the_result_file_or_parses_results() -> None:
    offenders = [name for name, tree in modules() if name != "grader/results.py"
                 and (RESULT_FILE in code_strings(tree) or parses_results(tree))]
    assert offenders == [], "write and read result.json through grader.results"


def test_only_the_models_spell_the_suites_count_verdicts_or_title_categories() -> None:
    offenders = [(name, reason) for name, tree in modules() if name != "grader/models.py"
                 for reason, found in (
                     ("spells a suite id", any(s.startswith((HIDDEN_SUITE, PUBLIC_SUITE)) for s in code_strings(tree))),
                     ("counts test verdicts", counts_outcomes(tree)),
                     ("titles a category", "API design" in code_strings(tree)),
                 ) if found]
    assert offenders == [], "use GradeResult.test_totals/failed_tests, CheckResult.suite and category_title"
