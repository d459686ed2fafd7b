"""checks.complexity, run for real (radon) as the sandbox runs it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from checks._common import SourceFile, parse_python
from checks.complexity import function_blocks, load_radon
from grader.checks.registry import COMPLEXITY
from grader.checks.spec import CheckContext

from .test_common import BAD, FASTAPI_REF, GOOD, assert_crash, bare_python, readonly, run_check, snapshot

__all__ = ["readonly"]  # the fixture, imported for pytest


def test_interface() -> None:
    assert (COMPLEXITY.id, COMPLEXITY.runs_in) == ("complexity", "tools")
    assert COMPLEXITY.command(CheckContext("/s", "/o", "py"))[:3] == ["py", "-m", "checks.complexity"]


def test_bad_sample_flags_the_complex_function(tmp_path: Path) -> None:
    run = run_check("complexity", BAD, tmp_path)
    assert run.returncode == 0, run.stderr
    assert (run.metrics["functions_over_10"], run.metrics["max_cc"]) == (1, 12)
    first = run.findings[0]
    assert (first["file"], first["line"], first["rule"], first["category"]) == (
        "app.py", 31, "cyclomatic-complexity", "python_fundamentals")
    assert first["message"] == "function `place_order` has cyclomatic complexity 12 (rank C)"
    assert ("broken.py", 1, "syntax-error") in run.located()
    assert run.metrics["functions"] == 11  # tests excluded; broken.py skipped


def test_good_sample(tmp_path: Path) -> None:
    run = run_check("complexity", GOOD, tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.metrics["functions_over_10"] == 0 and run.metrics["low_mi_files"] == 0
    assert 1 <= run.metrics["average_cc"] <= 3
    assert run.metrics["maintainability_index_avg"] > 50
    assert run.findings == []


def test_low_maintainability_file_and_worst_first_order(tmp_path: Path) -> None:
    submission = tmp_path / "sub"
    submission.mkdir()
    branches = "".join(f"    if x == {i} and y > {i} or z < {i}:\n        x = x * {i} + y - z / {i + 1}\n"
                       for i in range(60))
    (submission / "tangled.py").write_text(f"def tangled(x, y, z):\n{branches}    return x\n")
    (submission / "medium.py").write_text("def medium(a):\n" + "".join(
        f"    if a == {i}:\n        return {i}\n" for i in range(14)) + "    return -1\n")
    run = run_check("complexity", submission, tmp_path / "out")
    assert run.returncode == 0, run.stderr
    assert run.metrics["low_mi_files"] == 1
    assert [(f["file"], f["rule"]) for f in run.findings] == [
        ("tangled.py", "cyclomatic-complexity"), ("medium.py", "cyclomatic-complexity"),
        ("tangled.py", "maintainability-index")]
    assert run.findings[1]["message"] == "function `medium` has cyclomatic complexity 15 (rank C)"


def test_methods_and_closures_are_functions(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text(
        "class A:\n    def m(self, x):\n        return 1 if x else 2\n"
        "    class B:\n        def n(self):\n            pass\n"
        "def outer(a):\n    def inner(b):\n        return b or a\n    return inner\n")
    parsed, _ = parse_python([SourceFile(tmp_path / "m.py", "m.py")])
    names = {(block.name, block.complexity) for block in function_blocks(parsed[0], load_radon())}
    assert {"A.m", "A.B.n", "outer", "outer.inner"} == {name for name, _ in names}


def test_fastapi_reference_on_a_read_only_copy(tmp_path: Path, readonly: Callable[[Path], Path]) -> None:
    submission = readonly(FASTAPI_REF)
    before = snapshot(submission)
    run = run_check("complexity", submission, tmp_path / "out")
    assert run.returncode == 0, run.stderr
    assert snapshot(submission) == before
    assert run.metrics["functions"] == 9 and run.metrics["functions_over_10"] == 0
    print(f"complexity on fastapi-ref: {run.seconds:.2f}s")


def test_deterministic(tmp_path: Path) -> None:
    assert run_check("complexity", BAD, tmp_path / "1").raw == run_check("complexity", BAD, tmp_path / "2").raw


def test_missing_radon_is_a_crash(tmp_path: Path) -> None:
    assert_crash(run_check("complexity", GOOD, tmp_path, python=bare_python()), "complexity", "radon")


def test_missing_submission_is_a_crash(tmp_path: Path) -> None:
    assert_crash(run_check("complexity", tmp_path / "missing", tmp_path), "complexity", "not found")
