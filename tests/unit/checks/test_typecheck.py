"""checks.typecheck, run for real (mypy) as the sandbox runs it."""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path

from checks.formats import CATEGORY_IDS
from checks.typecheck import annotation_stats, parse_mypy_output, safe_name
from grader.checks.registry import TYPECHECK
from grader.checks.spec import CheckContext

from .test_common import BAD, FASTAPI_REF, GOOD, assert_crash, bare_python, readonly, run_check, snapshot

__all__ = ["readonly"]  # the fixture, imported for pytest


def test_interface() -> None:
    assert (TYPECHECK.id, TYPECHECK.runs_in) == ("typecheck", "tools")
    context = CheckContext("/submission", "/out", "python3")
    assert TYPECHECK.command(context) == ["python3", "-m", "checks.typecheck", "--submission", "/submission",
                                          "--out", "/out"]


def test_good_sample_is_clean(tmp_path: Path) -> None:
    run = run_check("typecheck", GOOD, tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.metrics["errors"] == 0
    assert run.metrics["files"] == 3  # app/__init__, app/db, app/main: tests and alembic/ are not app code
    assert run.metrics["annotation_share"] == 100
    assert run.metrics["functions"] == 9  # including the decorator's inner wrapper
    assert run.findings == []
    assert run.report is not None and run.report["tools"]["mypy"][0].isdigit()


def test_bad_sample_errors_suppressions_and_odd_layouts(tmp_path: Path) -> None:
    run = run_check("typecheck", BAD, tmp_path)
    assert run.returncode == 0, run.stderr
    located = run.located()
    assert ("app.py", 13, "no-untyped-def") in located
    assert ("app.py", 49, "assignment") in located
    # `# mypy: ignore-errors` and a file-level `# type: ignore` do not hide settings.py's errors
    assert ("settings.py", 7, "operator") in located
    assert {("settings.py", 1, "type-ignore"), ("settings.py", 2, "type-ignore")} <= located
    assert run.metrics["suppressions"] == 2
    # two main.py files, one in a directory that is not a package name: both analysed, no crash
    assert ("my-tools/main.py", 1, "no-untyped-def") in located
    assert ("scripts/main.py", 1, "no-untyped-def") in located
    assert ("broken.py", 1, "syntax-error") in located
    assert not any(item["file"].startswith("tests/") for item in run.findings if item["file"])
    assert run.metrics["files"] == 4
    assert run.metrics["errors"] == sum(1 for item in run.findings if item["rule"] not in
                                        ("type-ignore", "syntax-error"))
    assert run.metrics["errors_per_100_lines"] == round(100 * run.metrics["errors"] / run.metrics["lines"], 2)
    assert run.metrics["annotated_functions_share"] < 20
    assert all(item["category"] in CATEGORY_IDS for item in run.findings)


def test_same_input_gives_identical_json(tmp_path: Path) -> None:
    first = run_check("typecheck", BAD, tmp_path / "1")
    second = run_check("typecheck", BAD, tmp_path / "2")
    assert first.raw == second.raw


def test_fastapi_reference_on_a_read_only_copy(tmp_path: Path, readonly: Callable[[Path], Path]) -> None:
    submission = readonly(FASTAPI_REF)
    before = snapshot(submission)
    run = run_check("typecheck", submission, tmp_path / "out")
    assert run.returncode == 0, run.stderr
    assert snapshot(submission) == before
    assert run.metrics["errors"] == 0
    assert (run.metrics["files"], run.metrics["functions"]) == (1, 9)
    assert run.metrics["annotation_share"] == 100
    print(f"typecheck on fastapi-ref: {run.seconds:.2f}s")


def test_no_python_files(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "README.md").write_text("# nothing\n")
    run = run_check("typecheck", tmp_path / "sub", tmp_path / "out")
    assert run.returncode == 0, run.stderr
    assert run.metrics["files"] == 0 and run.metrics["errors"] == 0 and run.metrics["annotation_share"] == 0
    assert run.rules() == {"no-python-files"}


def test_missing_mypy_is_a_crash(tmp_path: Path) -> None:
    assert_crash(run_check("typecheck", GOOD, tmp_path, python=bare_python()), "typecheck", "mypy")


def test_missing_submission_is_a_crash(tmp_path: Path) -> None:
    assert_crash(run_check("typecheck", tmp_path / "nope", tmp_path), "typecheck", "not found")


def test_annotation_stats_definition() -> None:
    tree = ast.parse(
        "def a(): pass\n"                      # no parameters, no return annotation: not annotated
        "def b() -> None: pass\n"              # annotated
        "def c(x: int, *args: int): pass\n"    # all parameters annotated: annotated
        "def d(x: int, y): pass\n"             # not annotated
        "class K:\n"
        "    def m(self, x: int) -> int: return x\n"   # self not counted
        "    @staticmethod\n"
        "    def s(x): pass\n"                 # static: x counts
    )
    stats = annotation_stats(tree)
    assert (stats.functions, stats.annotated_functions) == (6, 3)
    assert (stats.parameters, stats.annotated_parameters) == (6, 4)


def test_parse_mypy_output_maps_paths_and_blocking_errors() -> None:
    output = (
        'my_tools/main.py:3: error: Function is missing a type annotation  [no-untyped-def]\n'
        'my_tools/main.py:3: note: Use "-> None" if function does not return a value\n'
        'app.py: error: Duplicate module named "app"\n'
        'elsewhere.py:1: error: not ours  [misc]\n'
    )
    errors, blocking = parse_mypy_output(output, {"my_tools/main.py": "my-tools/main.py", "app.py": "app.py"})
    assert [(e["file"], e["line"], e["rule"], e["message"]) for e in errors] == [
        ("my-tools/main.py", 3, "no-untyped-def", "Function is missing a type annotation")]
    assert blocking == [("app.py", 'Duplicate module named "app"')]


def test_safe_name() -> None:
    assert [safe_name(n) for n in ("my-app", "0001_init", "class", "ok")] == ["my_app", "_0001_init", "class_", "ok"]


def test_candidate_modules_never_shadow_the_tools(tmp_path: Path) -> None:
    submission = tmp_path / "sub"
    submission.mkdir()
    (submission / "mypy_extensions.py").write_text("raise SystemExit('HOSTILE: imported by the tool')\n")
    (submission / "typing_extensions.py").write_text("raise SystemExit('HOSTILE: imported by the tool')\n")
    (submission / "app.py").write_text("def f(x: int) -> str:\n    return x\n")
    run = run_check("typecheck", submission, tmp_path / "out")
    assert run.returncode == 0, run.stderr
    assert ("app.py", 2, "return-value") in run.located()
    assert {("mypy_extensions.py", None, "mypy-blocking"), ("typing_extensions.py", None, "mypy-blocking")} <= \
        run.located()
    assert run.metrics["files"] == 1
