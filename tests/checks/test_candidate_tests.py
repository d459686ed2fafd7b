"""checks.candidate_tests, run for real: the candidate's pytest under coverage, in a candidate interpreter."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from checks.base import ToolContext
from checks.candidate_tests import CHECK, INNER_TIMEOUT_S, read_junit

from ..conftest import skip_or_fail
from .test_common import BAD, FASTAPI_REF, GOOD, assert_crash, bare_python, readonly, run_check, snapshot

__all__ = ["readonly"]  # the fixture, imported for pytest

CANDIDATE_PACKAGES = ("fastapi==0.115.12", "pydantic==2.11.4", "httpx==0.28.1", "pytest>=8", "coverage>=7.4")


@pytest.fixture(scope="module")
def candidate_python(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A candidate environment as the sandbox builds one: the app's packages plus pytest and coverage."""
    venv = tmp_path_factory.mktemp("candidate") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
    python = str(venv / "bin" / "python")
    result = subprocess.run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check",
                             *CANDIDATE_PACKAGES], capture_output=True, text=True, timeout=600, check=False)
    if result.returncode != 0:
        skip_or_fail(f"could not install the candidate packages: {result.stderr.strip()[-300:]}")
    return python


def test_interface() -> None:
    assert (CHECK.id, CHECK.categories, CHECK.environment) == ("candidate_tests", ("testing",), "candidate")
    assert CHECK.timeout_s > INNER_TIMEOUT_S
    assert CHECK.command(ToolContext("/s", "/o", "/venv/bin/python"))[:3] == [
        "/venv/bin/python", "-m", "checks.candidate_tests"]


def test_fastapi_reference_on_a_read_only_copy(
    tmp_path: Path, readonly: Callable[[Path], Path], candidate_python: str,
) -> None:
    submission = readonly(FASTAPI_REF)
    before = snapshot(submission)
    run = run_check("candidate_tests", submission, tmp_path / "out", python=candidate_python)
    assert run.returncode == 0, run.stderr
    assert snapshot(submission) == before  # no .pytest_cache, __pycache__ or .coverage written
    metrics = run.metrics
    assert (metrics["tests_found"], metrics["tests_passed"], metrics["tests_failed"]) == (10, 10, 0)
    assert metrics["pass_rate"] == 100
    assert metrics["coverage_percent"] > 85 and metrics["line_coverage"] > 90  # tests/ not measured
    assert 0 < metrics["branch_coverage"] <= 100
    assert (metrics["http_tests"], metrics["mocks_used"]) == (1, 1)
    assert run.findings == []
    assert run.report is not None and set(run.report["tools"]) == {"pytest", "coverage"}
    print(f"candidate_tests on fastapi-ref: {run.seconds:.2f}s")


def test_good_sample(tmp_path: Path, readonly: Callable[[Path], Path], candidate_python: str) -> None:
    run = run_check("candidate_tests", readonly(GOOD), tmp_path / "out", python=candidate_python)
    assert run.returncode == 0, run.stderr
    assert (run.metrics["tests_found"], run.metrics["tests_passed"], run.metrics["pass_rate"]) == (4, 4, 100)
    assert (run.metrics["http_tests"], run.metrics["mocks_used"]) == (1, 1)
    assert run.metrics["line_coverage"] > 90


def test_bad_sample_failing_test_is_located(
    tmp_path: Path, readonly: Callable[[Path], Path], candidate_python: str,
) -> None:
    run = run_check("candidate_tests", readonly(BAD), tmp_path / "out", python=candidate_python)
    assert run.returncode == 0, run.stderr
    metrics = run.metrics
    assert (metrics["tests_found"], metrics["tests_passed"], metrics["tests_failed"], metrics["tests_errors"]) == (
        3, 2, 1, 0)
    assert metrics["pass_rate"] == round(100 * 2 / 3, 2)
    # the candidate's [tool.coverage] (omit everything, fail_under = 100) is not read
    assert 0 < metrics["line_coverage"] < 100
    assert (metrics["http_tests"], metrics["mocks_used"]) == (0, 0)
    failed = next(item for item in run.findings if item["rule"] == "test-failed")
    assert (failed["file"], failed["line"], failed["category"]) == ("tests/test_app.py", 8, "testing")
    assert "test_place_order_discount" in failed["message"] and "assert 180.0 == 200" in failed["message"]
    assert {"no-http-tests", "no-mocks"} <= run.rules()


def test_no_tests_is_not_a_crash(tmp_path: Path) -> None:
    submission = tmp_path / "sub"
    submission.mkdir()
    (submission / "app.py").write_text("def f() -> int:\n    return 1\n")
    run = run_check("candidate_tests", submission, tmp_path / "out")
    assert run.returncode == 0, run.stderr
    assert run.metrics["tests_found"] == 0 and run.metrics["coverage_percent"] == 0
    assert "no tests found" in run.findings[0]["message"]


def test_collection_error_is_the_candidates_failure(tmp_path: Path) -> None:
    submission = tmp_path / "sub"
    (submission / "tests").mkdir(parents=True)
    (submission / "tests" / "test_x.py").write_text("import not_a_module\n\n\ndef test_x():\n    pass\n")
    run = run_check("candidate_tests", submission, tmp_path / "out")
    assert run.returncode == 0, run.stderr
    assert run.metrics["tests_errors"] == 1 and run.metrics["tests_passed"] == 0
    interrupted = next(item for item in run.findings if item["rule"] == "tests-interrupted")
    assert "No module named 'not_a_module'" in interrupted["message"]
    assert ("tests/test_x.py", None, "test-error") in run.located()


def test_timeout_still_writes_a_report(tmp_path: Path) -> None:
    submission = tmp_path / "sub"
    submission.mkdir()
    (submission / "test_slow.py").write_text(
        "import subprocess, sys, time\n\n\ndef test_slow():\n"
        "    subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'])\n    time.sleep(120)\n")
    started = time.monotonic()
    run = run_check("candidate_tests", submission, tmp_path / "out", extra=("--timeout", "3"))
    assert time.monotonic() - started < 30
    assert run.returncode == 0, run.stderr
    assert run.findings[0]["message"] == "tests timed out after 3s"
    assert run.metrics["tests_found"] == 0


def test_junit_with_a_doctype_is_refused(tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    junit.write_text('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><testsuites><testsuite>'
                     '<testcase name="t">&a;</testcase></testsuite></testsuites>')
    assert read_junit(junit) is None
    junit.write_text('<testsuites><testsuite><testcase classname="tests.test_a" name="t1"/>'
                     '<testcase classname="tests.test_a" name="t2"><failure message="boom"/></testcase>'
                     '<testcase classname="tests.test_a" name="t3"><skipped/></testcase>'
                     '<testcase classname="" name="tests.test_b"><error message="collection failure"/></testcase>'
                     '</testsuite></testsuites>')
    report = read_junit(junit)
    assert report is not None
    counts, problems = report
    assert (counts.found, counts.passed, counts.failed, counts.skipped, counts.errors) == (4, 1, 1, 1, 1)
    assert [(p.name, p.outcome) for p in problems] == [("t2", "failed"), ("tests.test_b", "errors")]


def test_missing_pytest_or_coverage_is_a_crash(tmp_path: Path) -> None:
    run = run_check("candidate_tests", GOOD, tmp_path, python=bare_python())
    assert_crash(run, "candidate_tests", "pytest and coverage must be installed")


def test_missing_submission_is_a_crash(tmp_path: Path) -> None:
    assert_crash(run_check("candidate_tests", tmp_path / "missing", tmp_path), "candidate_tests", "not found")
