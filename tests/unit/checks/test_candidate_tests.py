"""checks.candidate_tests, run for real: the candidate's pytest under coverage, in a candidate interpreter.

Here with the tools' own interpreter; in interpreters that need packages from the index (FastAPI, Django):
tests/network/checks/test_candidate_tests.py.
"""

from __future__ import annotations

import json
import os
import stat
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from checks import candidate_tests
from checks import candidate_tests as in_sandbox
from checks.candidate_tests import INNER_TIMEOUT_S, read_junit
from grader.checks.registry import CANDIDATE_TESTS
from grader.checks.spec import CheckContext
from grader.models import CheckRun as CheckRun_
from grader.models import Finding
from grader.rules import DEFAULT_RULES
from grader.scoring import score_check_runs

from .test_common import (
    GOOD,
    REPO_ROOT,
    CheckRun,
    assert_crash,
    bare_python,
    honouring_write_bits,
    readonly,
    run_check,
    snapshot,
)

__all__ = ["readonly"]  # the fixture, imported for pytest

RUNNER_FIXTURES = REPO_ROOT / "tests" / "fixtures" / "candidate_tests"


def test_interface() -> None:
    assert (CANDIDATE_TESTS.id, CANDIDATE_TESTS.runs_in) == ("candidate_tests", "candidate")
    assert CANDIDATE_TESTS.timeout_s > INNER_TIMEOUT_S + 60  # the module writes its report before the host stops it
    assert CANDIDATE_TESTS.command(CheckContext("/s", "/o", "/venv/bin/python"))[:3] == [
        "/venv/bin/python", "-m", "checks.candidate_tests"]


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
    assert (run.metrics["tests_found"], run.metrics["collection_errors"]) == (0, 1)  # nothing ran
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
    # found = the tests that ran: not the skipped one, not the module that failed to collect
    assert (counts.found, counts.passed, counts.failed, counts.skipped, counts.errors, counts.not_run) == (
        2, 1, 1, 1, 1, 1)
    assert [(p.name, p.outcome, p.ran) for p in problems] == [("t2", "failed", True), ("tests.test_b", "errors", False)]


def test_missing_pytest_or_coverage_is_a_crash(tmp_path: Path) -> None:
    run = run_check("candidate_tests", GOOD, tmp_path, python=bare_python())
    assert_crash(run, "candidate_tests", "pytest and coverage must be installed")


def test_missing_submission_is_a_crash(tmp_path: Path) -> None:
    assert_crash(run_check("candidate_tests", tmp_path / "missing", tmp_path), "candidate_tests", "not found")


# --- runners other than plain pytest: the project's own way of running its tests --------------------------------


def measured_files(out: Path) -> set[str]:
    """The files coverage measured (the check keeps its `coverage json` next to its report)."""
    return set(json.loads((out / "coverage.json").read_text())["files"])


def runner_message(run: CheckRun) -> str:
    [runner] = [item for item in run.findings if item["rule"] == "test-runner"]
    assert runner["severity"] == "info"
    message: str = runner["message"]
    return message


def test_unittest_only_project_runs_with_unittest_discovery(
    tmp_path: Path, readonly: Callable[[Path], Path],
) -> None:
    """`tests.py` is unittest's pattern (test*.py), not pytest's: pytest would find nothing."""
    run = run_check("candidate_tests", readonly(RUNNER_FIXTURES / "unittest-only"), tmp_path / "out")
    assert run.returncode == 0, run.stderr
    metrics = run.metrics
    assert (metrics["tests_found"], metrics["tests_passed"], metrics["tests_failed"], metrics["tests_skipped"]) == (
        3, 2, 1, 1)
    assert metrics["mocks_used"] == 1 and metrics["pass_rate"] == round(100 * 2 / 3, 2)
    assert run.report is not None and run.report["tools"]["runner"] == "unittest"
    assert runner_message(run).startswith("tests run with `python -m unittest discover`")
    failed = next(item for item in run.findings if item["rule"] == "test-failed")
    assert (failed["file"], failed["line"]) == ("tests.py", 30)  # the failing subTest's assertion
    assert "StockTests.test_rejects_bad_quantities" in failed["message"] and "not raised" in failed["message"]
    assert measured_files(tmp_path / "out") == {"inventory/__init__.py", "inventory/stock.py"}
    assert metrics["line_coverage"] > 90


def test_coverage_from_a_conftest_without_tests_is_not_counted(
    tmp_path: Path, readonly: Callable[[Path], Path],
) -> None:
    run = run_check("candidate_tests", readonly(RUNNER_FIXTURES / "conftest-no-tests"), tmp_path / "out")
    assert run.returncode == 0, run.stderr
    metrics = run.metrics
    assert metrics["tests_found"] == 0
    assert (metrics["coverage_percent"], metrics["line_coverage"], metrics["branch_coverage"]) == (0, 0, 0)
    assert measured_files(tmp_path / "out") == {"greeter/__init__.py", "greeter/app.py"}  # it was measured...
    ignored = next(item for item in run.findings if item["rule"] == "coverage-without-tests")
    assert "no test ran" in ignored["message"]  # ... and said so, but not counted
    assert {"no-tests", "test-runner"} <= run.rules()
    # the rules built on the candidate's tests earn nothing, each with a deduction saying why
    [testing] = score_check_runs([CheckRun_(id="candidate_tests", status="ok", metrics=metrics,
                                            findings=[Finding.model_validate(f) for f in run.findings])],
                                 DEFAULT_RULES)
    assert (testing.score, testing.max_score) == (0, 80)
    zeroed = {d.rule: d for d in testing.deductions if "tests_found = 0" in d.reason}
    assert set(zeroed) == {"candidate_tests.pass_rate", "candidate_tests.coverage_percent",
                           "candidate_tests.http_tests", "candidate_tests.mocks_used"}
    assert zeroed["candidate_tests.http_tests"].value == 1  # the conftest's test_client() is not a test
    assert [e.rule for e in zeroed["candidate_tests.coverage_percent"].evidence] == ["no-tests"]


SUBMISSIONS = REPO_ROOT / "tests" / "fixtures" / "submissions"


def test_unittest_runs_a_nested_test_folder_that_is_no_package(
    tmp_path: Path, readonly: Callable[[Path], Path],
) -> None:
    """`cd service && python -m unittest discover -s tests` runs 2 tests; discovery from the root, none."""
    run = run_check("candidate_tests", readonly(SUBMISSIONS / "unittest-nested-tests"), tmp_path / "out")
    assert run.returncode == 0, run.stderr
    metrics = run.metrics
    assert (metrics["tests_found"], metrics["tests_passed"], metrics["pass_rate"]) == (2, 2, 100), run.findings
    assert "no-tests" not in run.rules()
    assert runner_message(run).startswith(
        "tests run with `python -m unittest discover; cd service && python -m unittest discover -s tests`")
    assert measured_files(tmp_path / "out") == {"service/slug.py"}
    assert metrics["line_coverage"] == 100


def test_tests_that_write_into_the_repository_run_in_a_writable_copy(
    tmp_path: Path, readonly: Callable[[Path], Path],
) -> None:
    """The submission is read-only in the sandbox; tests that keep a SQLite file in the repository must still
    pass, and the submission must stay as it was. Write bits hold for the check (root would ignore them),
    and it leaves nothing in its TMPDIR."""
    submission = readonly(SUBMISSIONS / "tests-write-in-repo")
    before = snapshot(submission)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    run = run_check("candidate_tests", submission, tmp_path / "out", env={"TMPDIR": str(scratch)},
                    prefix=honouring_write_bits())
    assert run.returncode == 0, run.stderr
    metrics = run.metrics
    assert (metrics["tests_found"], metrics["tests_passed"], metrics["pass_rate"]) == (2, 2, 100), run.findings
    assert measured_files(tmp_path / "out") == {"visits.py"}  # relative to the submission, not to the copy
    assert metrics["line_coverage"] == 100
    assert snapshot(submission) == before
    assert list(scratch.iterdir()) == []


def test_the_writable_copy_copies_small_files_links_big_ones_and_keeps_links(
    tmp_path: Path, readonly: Callable[[Path], Path], monkeypatch: pytest.MonkeyPatch,
) -> None:
    source = tmp_path / "source"
    (source / "pkg").mkdir(parents=True)
    (source / "pkg" / "small.py").write_text("X = 1\n")
    (source / "pkg" / "big.sqlite3").write_bytes(b"x" * 64)
    (source / "pkg" / "alias.py").symlink_to("small.py")
    (source / "pkg_link").symlink_to("pkg")
    submission = readonly(source)
    monkeypatch.setattr(candidate_tests, "MAX_COPIED_FILE_BYTES", 32)
    with candidate_tests.scratch_dir() as scratch:
        copy = candidate_tests.writable_copy(submission, scratch / "copy")
        small, big = copy / "pkg" / "small.py", copy / "pkg" / "big.sqlite3"
        assert not small.is_symlink() and small.read_text() == "X = 1\n" and small.stat().st_mode & stat.S_IWUSR
        assert big.is_symlink() and big.resolve() == submission / "pkg" / "big.sqlite3"  # over the size: linked
        assert os.readlink(copy / "pkg" / "alias.py") == "small.py" and os.readlink(copy / "pkg_link") == "pkg"
        (copy / "pkg" / "new.db").write_text("written")  # folders are the copy's own
        (copy / "pkg").chmod(0o500)  # what a suite may leave behind
    assert not scratch.exists()
    assert sorted(path.name for path in submission.rglob("*")) == ["alias.py", "big.sqlite3", "pkg", "pkg_link",
                                                                   "small.py"]


def test_a_unittest_module_that_does_not_import_is_no_test_that_ran(tmp_path: Path) -> None:
    submission = tmp_path / "sub"
    submission.mkdir()
    (submission / "test_ok.py").write_text(
        "import unittest\n\n\nclass Ok(unittest.TestCase):\n    def test_ok(self):\n        pass\n")
    (submission / "test_broken.py").write_text(
        "import unittest\nimport not_a_module\n\n\nclass Broken(unittest.TestCase):\n    def test_x(self):\n"
        "        pass\n")
    run = run_check("candidate_tests", submission, tmp_path / "out")
    assert run.returncode == 0, run.stderr
    metrics = run.metrics
    assert (metrics["tests_found"], metrics["tests_passed"], metrics["tests_errors"]) == (1, 1, 1)
    assert metrics.get("collection_errors") == 1
    assert metrics["pass_rate"] == 50  # the module that did not import counts against the pass rate
    assert run.report is not None and run.report["tools"]["runner"] == "unittest"
    not_run = next(item for item in run.findings if item["rule"] == "tests-not-run")
    assert "No module named 'not_a_module'" in not_run["message"]
    assert ("test_broken.py", 2, "test-error") in run.located()


DJANGO_TEST = ("from django.test import SimpleTestCase\n\n\nclass T(SimpleTestCase):\n    def test_a(self):\n"
               "        pass\n")


@pytest.mark.parametrize("code", [
    "import httpx\n\ndef test_upstream_down():\n    transport = httpx.MockTransport(lambda r: httpx.Response(503))\n",
    "from app.main import app, get_db\n\ndef test_db():\n    app.dependency_overrides[get_db] = lambda: None\n",
])
def test_stand_ins_without_a_mock_library_count_as_mocks(code: str) -> None:
    """httpx's MockTransport and FastAPI's dependency_overrides isolate a collaborator as much as
    unittest.mock does; a test file using only them was reported as 'does not isolate collaborators'."""
    import ast

    from checks._common import ParsedFile, SourceFile

    parsed = [ParsedFile(SourceFile(Path("tests/test_api.py"), "tests/test_api.py"), ast.parse(code), code, 4)]
    assert in_sandbox.test_code_facts(parsed)[1] is True
    plain = "def test_add():\n    assert 1 + 1 == 2\n"
    parsed = [ParsedFile(SourceFile(Path("tests/test_sum.py"), "tests/test_sum.py"), ast.parse(plain), plain, 2)]
    assert in_sandbox.test_code_facts(parsed)[1] is False


# --- the challenge's upstream: tests that call it for real ------------------------------------------------------

UPSTREAM = {"GRADER_UPSTREAMS": "SAFETY_API_URL", "SAFETY_API_URL": "http://127.0.0.1:9"}  # port 9: discard, unserved
REAL_CALLERS = {"tests.test_safety.test_a_safe_url_is_accepted", "tests.test_safety.test_the_service_is_up"}


def real_callers(run: CheckRun) -> set[str]:
    return {f["message"].split("`")[1] for f in run.findings if f["rule"] == "calls-real-upstream"}


def deductions_of(run: CheckRun) -> dict[str, Any]:
    [testing] = score_check_runs([CheckRun_(id="candidate_tests", status="ok", metrics=run.metrics,
                                            findings=[Finding.model_validate(f) for f in run.findings])],
                                 DEFAULT_RULES)
    return {d.rule: d for d in testing.deductions}


def test_tests_that_call_the_declared_upstream_for_real_are_named_and_cost_the_mocks_rule(tmp_path: Path) -> None:
    """httpx through the code (its failure shows the variable in the code's line) and requests (its failure
    names host and port): both named, with their file; a failure of another kind is not."""
    run = run_check("candidate_tests", RUNNER_FIXTURES / "upstream-called", tmp_path / "out", env=UPSTREAM)
    assert run.returncode == 0, run.stderr
    assert (run.metrics["tests_found"], run.metrics["tests_failed"]) == (4, 3)
    assert (run.metrics["upstream_calls"], run.metrics["mocks_used"]) == (2, 0)
    assert real_callers(run) == REAL_CALLERS
    named = [f for f in run.findings if f["rule"] == "calls-real-upstream"]
    assert all(f["file"] == "tests/test_safety.py" and "$SAFETY_API_URL (http://127.0.0.1:9" in f["message"]
               for f in named), named
    mocks = deductions_of(run)["candidate_tests.mocks_used"]
    assert mocks.points == 5
    assert {e.message.split("`")[1] for e in mocks.evidence if e.rule == "calls-real-upstream"} == REAL_CALLERS


def test_tests_that_mock_the_declared_upstream_pass_and_keep_the_mocks_rule(tmp_path: Path) -> None:
    run = run_check("candidate_tests", RUNNER_FIXTURES / "upstream-mocked", tmp_path / "out", env=UPSTREAM)
    assert run.returncode == 0, run.stderr
    assert (run.metrics["tests_found"], run.metrics["tests_passed"]) == (3, 3)
    assert (run.metrics["upstream_calls"], run.metrics["mocks_used"]) == (0, 1)
    assert real_callers(run) == set()
    assert "candidate_tests.mocks_used" not in deductions_of(run)


def test_without_a_declared_upstream_nothing_is_named(tmp_path: Path) -> None:
    """A challenge without `{upstream_port}`: the metric says "not applicable", and no test is named."""
    run = run_check("candidate_tests", RUNNER_FIXTURES / "upstream-called", tmp_path / "out",
                    env={"SAFETY_API_URL": "http://127.0.0.1:9"})
    assert run.metrics["upstream_calls"] == -1 and real_callers(run) == set()


def test_the_candidates_tests_do_not_see_which_variables_name_the_upstream(tmp_path: Path) -> None:
    submission = tmp_path / "sub"
    submission.mkdir()
    (submission / "test_env.py").write_text(
        "import os\n\n\ndef test_env():\n    assert 'GRADER_UPSTREAMS' not in os.environ\n"
        "    assert os.environ['SAFETY_API_URL'] == 'http://127.0.0.1:9'\n")
    run = run_check("candidate_tests", submission, tmp_path / "out", env=UPSTREAM)
    assert (run.metrics["tests_found"], run.metrics["tests_passed"]) == (1, 1), run.findings


def test_a_unittest_suite_that_calls_the_upstream_is_named_from_its_traceback(tmp_path: Path) -> None:
    """The unittest runner's record keeps the failure's traceback: httpx's one-line error names no address,
    the line that made the call does."""
    submission = tmp_path / "sub"
    submission.mkdir()
    (submission / "test_safety.py").write_text(
        "import os\nimport unittest\n\nimport httpx\n\n\nclass SafetyTest(unittest.TestCase):\n"
        "    def test_real_call(self):\n        httpx.get(os.environ['SAFETY_API_URL'] + '/health', timeout=1)\n\n"
        "    def test_own_failure(self):\n        self.assertEqual(1, 2)\n")
    run = run_check("candidate_tests", submission, tmp_path / "out", env=UPSTREAM)
    assert (run.metrics["tests_failed"], run.metrics["tests_errors"]) == (1, 1), run.findings  # unittest: an error
    assert run.metrics["upstream_calls"] == 1
    assert real_callers(run) == {"test_safety.SafetyTest.test_real_call"}


@pytest.mark.parametrize(("text", "expected"), [
    ("ClientConnectorError: Cannot connect to host 127.0.0.1:9 ssl:default", "SAFETY_API_URL"),  # aiohttp
    ("ConnectionRefusedError: [Errno 111] Connect call failed ('127.0.0.1', 9)", "SAFETY_API_URL"),
    ("ConnectionRefusedError: [Errno 111] Connect call failed ('127.0.0.1', 5432)", None),  # the database
    ("AssertionError: 503 != 201 for http://127.0.0.1:9/v1/check", None),  # no refused connection
])
def test_a_failure_names_the_upstream_when_it_shows_a_refused_connection_to_it(text: str, expected: str | None) -> None:
    problem = in_sandbox.CaseProblem("tests.test_x", "test_x", "failed", text)
    assert in_sandbox.called_upstream(problem, {"SAFETY_API_URL": "http://127.0.0.1:9"}) == expected
