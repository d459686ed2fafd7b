"""Challenge authoring: `challenge new`, `challenge validate` and `challenge export` (the candidate kit).

Gradings by `validate` and the kit `export` builds need the package index: tests/network/grader/test_authoring.py.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from grader.authoring import (
    AuthoringError,
    band_problems,
    foreign_imports,
    kit_guide,
    margin_verdict,
    new_challenge,
    solution_verdict,
    starter_verdict,
    toml_dumps,
    weakest_problems,
)
from grader.challenge import load_challenge
from grader.models import (
    CategoryScore,
    Challenge,
    CheckResult,
    CheckStatus,
    GradeResult,
    SolutionExpectation,
    SubmissionInfo,
    TestCase,
)

HELLO = load_challenge("hello-api")


def grader(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "grader", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=900, check=False)


def verdict_lines(stdout: str) -> dict[str, str]:
    """`ok   subject: detail` / `FAIL subject: detail` lines by subject."""
    lines = {}
    for line in stdout.splitlines():
        mark, _, rest = line.partition(" ")
        if mark in ("ok", "FAIL"):
            subject, _, detail = rest.strip().partition(": ")
            lines[subject] = f"{mark} {detail}"
    return lines


# --- challenge new -------------------------------------------------------------------------------------------


def test_new_writes_a_skeleton_that_passes_the_static_checks(tmp_path: Path) -> None:
    proc = grader("challenge", "new", "orders-api", "--dir", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    bundle = tmp_path / "orders-api"
    for expected in ("challenge.toml", "README.md", "public/test_public.py", "hidden/test_hidden.py",
                     "solutions/reference/main.py", "solutions/reference/tests/test_api.py", "starter/main.py"):
        assert (bundle / expected).is_file(), expected
    challenge = load_challenge(str(bundle))
    assert (challenge.id, challenge.title) == ("orders-api", "Orders API")
    assert challenge.solutions["reference"].kind == "reference"
    hidden = (bundle / "hidden" / "test_hidden.py").read_text()
    assert '@pytest.mark.category("api_design")' in hidden and '@pytest.mark.category("databases")' in hidden
    assert "__ID__" not in hidden and "__TITLE__" not in (bundle / "README.md").read_text()
    validated = grader("challenge", "validate", str(bundle), "--no-grade")
    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert "FAIL" not in validated.stdout


def test_new_refuses_a_bad_id_and_an_existing_bundle(tmp_path: Path) -> None:
    with pytest.raises(AuthoringError, match="not a challenge id"):
        new_challenge("Orders API", tmp_path)
    new_challenge("orders-api", tmp_path)
    proc = grader("challenge", "new", "orders-api", "--dir", str(tmp_path))
    assert proc.returncode == 3
    assert "already exists" in proc.stderr and "Traceback" not in proc.stderr


# --- challenge validate ----------------------------------------------------------------------------------------


def test_validate_refuses_hidden_tests_that_import_the_candidate(tmp_path: Path) -> None:
    bundle = new_challenge("peeking-api", tmp_path)
    (bundle / "hidden" / "test_peek.py").write_text(
        "def test_peek() -> None:\n    import main\n    from app.models import Item\n    assert main, Item\n")
    proc = grader("challenge", "validate", str(bundle), "--no-grade")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    verdicts = verdict_lines(proc.stdout)
    assert verdicts["hidden imports"].startswith("FAIL")
    assert "test_peek.py:2: import main" in verdicts["hidden imports"]
    assert "import app.models" in verdicts["hidden imports"]
    assert verdicts["public imports"].startswith("ok")


def test_a_malformed_manifest_is_one_failed_verdict(tmp_path: Path) -> None:
    bundle = new_challenge("bad-api", tmp_path)
    (bundle / "challenge.toml").write_text('id = "bad-api"\ntitle = "B"\n[app]\nport = "x"\n')
    proc = grader("challenge", "validate", str(bundle), "--no-grade")
    assert proc.returncode == 1
    assert verdict_lines(proc.stdout)["schema"].startswith("FAIL")
    assert "field 'app.port'" in proc.stdout


def test_foreign_imports_allow_only_stdlib_pytest_httpx_checks_and_local_modules(tmp_path: Path) -> None:
    (tmp_path / "helpers.py").write_text("import json\n")
    (tmp_path / "test_a.py").write_text(
        "import os, uuid\nimport httpx\nimport pytest\nfrom checks.pytest_plugin import CATEGORY_IDS\n"
        "from helpers import json\nfrom . import helpers\n"
        "import main\nfrom fastapi.testclient import TestClient\n"
        "import importlib\nmod = importlib.import_module('app')\n"
    )
    problems = foreign_imports(tmp_path)
    assert problems == [
        "test_a.py:7: import main",
        "test_a.py:8: import fastapi.testclient",
        "test_a.py:10: dynamic import (importlib.import_module/__import__) is not allowed",
    ]
    (tmp_path / "test_b.py").write_text("def broken(:\n")
    assert any("test_b.py: cannot be parsed" in p for p in foreign_imports(tmp_path))


def _result(failed: set[str], passed: set[str], overall: float | None, framework: str = "fastapi") -> GradeResult:
    tests = [TestCase(name=n, nodeid=f"t.py::{n}", category="api_design", outcome="failed") for n in sorted(failed)]
    tests += [TestCase(name=n, nodeid=f"t.py::{n}", category="api_design", outcome="passed") for n in sorted(passed)]
    check = CheckResult(id="hidden-tests/api_design", category="api_design", status=CheckStatus.FAILED,
                        score=len(passed), max_score=len(tests), tests=tests)
    submission = SubmissionInfo(name="s", source="s", source_kind="directory", content_hash="h", file_count=1,
                                framework=framework, start_command="x", start_command_source="auto")
    return GradeResult(grader_version="0", graded_at="now", status="graded", challenge={}, submission=submission,
                       sandbox=None, checks=[check], overall=overall)


def test_solution_verdict_compares_failures_framework_and_band() -> None:
    expectation = SolutionExpectation(kind="flawed", framework="fastapi", expected_failures=["test_a"],
                                      min_overall=40, max_overall=60)
    assert solution_verdict("x", expectation, _result({"test_a"}, {"test_b"}, 50)).ok
    wrong = solution_verdict("x", expectation, _result({"test_b"}, {"test_a"}, 70, framework="flask"))
    assert not wrong.ok
    for expected in ("detected framework flask", "fails test_b (expected to pass)",
                     "passes test_a (expected to fail)", "above max_overall 60"):
        assert expected in wrong.detail
    assert starter_verdict(_result({"test_a"}, {"test_b"}, 10)).ok
    assert not starter_verdict(_result(set(), {"test_a", "test_b"}, 90)).ok


def test_band_problems() -> None:
    band = SolutionExpectation(kind="reference", framework="django", min_overall=70)
    assert band_problems(75, band) == []
    assert band_problems(65, band) == ["overall 65 is below min_overall 70"]
    assert band_problems(None, band) == ["no overall score, but a score band is expected"]
    assert band_problems(None, SolutionExpectation(kind="reference", framework="django")) == []


def test_toml_writer_round_trips_a_manifest() -> None:
    data = {
        "id": "x", "title": 'Quotes " and \\ and ünïcode', "python": "3.11",
        "app": {"port": 8000, "env": {}, "flags": [1, 2.5, True, "a"]},
        "scoring": {"hidden_points": {"api_design": 90.0},
                    "rules": {"candidate_tests.coverage_percent": {"points": 30, "good": 70, "bad": 10}}},
    }
    assert tomllib.loads(toml_dumps(data)) == data


# --- validate's verdicts on graded results ---------------------------------------------------------------------


def _with_categories(result: GradeResult, scores: dict[str, float]) -> GradeResult:
    categories = [CategoryScore(id=cid, weight=10, score=score, evaluated=True) for cid, score in scores.items()]
    return result.model_copy(update={"categories": categories})


def test_weakest_category_must_be_the_flaws_target() -> None:
    expectation = SolutionExpectation(kind="flawed", framework="fastapi", weakest_category="databases")
    scored = _with_categories(_result(set(), {"test_a"}, 60), {"databases": 20, "testing": 55, "api_design": 80})
    assert weakest_problems(scored, expectation) == []
    wrong = _with_categories(scored, {"databases": 40, "testing": 25, "api_design": 80})
    assert weakest_problems(wrong, expectation) == ["its weakest category is testing 25, not databases (40)"]
    assert not solution_verdict("x", expectation, wrong).ok
    with pytest.raises(ValueError, match="unknown category"):
        SolutionExpectation(kind="flawed", framework="fastapi", weakest_category="vibes")


def test_flawed_margin_is_measured_from_the_lowest_reference() -> None:
    challenge = Challenge(id="c", title="c", flawed_margin=15, solutions={
        "ref-a": SolutionExpectation(kind="reference", framework="fastapi"),
        "ref-b": SolutionExpectation(kind="reference", framework="flask"),
        "bad": SolutionExpectation(kind="flawed", framework="fastapi"),
    })
    assert margin_verdict(challenge, {"ref-a": 95, "ref-b": 91, "bad": 76}).ok
    close = margin_verdict(challenge, {"ref-a": 95, "ref-b": 91, "bad": 77.5})
    assert not close.ok and "bad 77.5" in close.detail
    assert not margin_verdict(challenge, {"bad": 10}).ok


# --- challenge export: the kit's guide ------------------------------------------------------------------------


def test_the_kit_guide_names_service_urls_only_for_a_challenge_with_services() -> None:
    """Without Docker a candidate names servers of their own: the guide shows the flag for each service."""
    orders = kit_guide(load_challenge("orders-api"), "takehome_grader-1-py3-none-any.whl")
    assert "--service-url postgres=postgresql://" in orders and "may create databases" in orders
    assert ".grader-venv/bin/pip install grader-dist/takehome_grader-1-py3-none-any.whl" in orders
    assert "--service-url" not in kit_guide(HELLO, "takehome_grader-1-py3-none-any.whl")
