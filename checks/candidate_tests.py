"""Static check `candidate_tests`: the candidate's own test suite, run under coverage.py.

Evidence for testing. Runs in the CANDIDATE's environment (its interpreter has pytest and coverage):

    python -m checks.candidate_tests --submission DIR --out DIR [--timeout SECONDS]

with, in the submission directory (read-only: no cache, no bytecode, coverage data in a temp dir):

    python -m coverage run --rcfile <checks/config/coveragerc> --branch --data-file <tmp> --source <submission>
        --omit <tests, conftest, migrations, virtualenvs> -m pytest -q -p no:cacheprovider
        --junitxml <out>/junit.xml <submission>
    python -m coverage json --rcfile ... --data-file <tmp> -o <tmp>/coverage.json

The grader's coverage configuration is used (`--rcfile`), never the candidate's .coveragerc; pytest does
read the candidate's pytest configuration and conftest.py: the suite is theirs.

CAUTION: every number here is self-reported by code the candidate controls. A conftest.py can rewrite
outcomes, skip collection, or fake coverage. These metrics are evidence of effort, not proof; the hidden
test suite is what measures behaviour.

Metrics: `tests_found`, `tests_passed`, `tests_failed`, `tests_errors`, `tests_skipped` (JUnit XML
testcases; a collection error is an error); `pass_rate` = passed * 100 / (found - skipped), 0 when none
ran; `coverage_percent` (coverage.py's total, branches included), `line_coverage`, `branch_coverage`
(equal to line_coverage when the code has no branches); `http_tests` (1 when the tests call HTTP
endpoints: FastAPI/Starlette TestClient, Flask test_client(), Django/DRF Client, httpx AsyncClient/ASGI
transports, or `client.get("/...")`-style calls); `mocks_used` (1 when unittest.mock, mock, pytest-mock's
`mocker`, `monkeypatch`, respx, responses, freezegun or pytest-httpx appear).

Outcomes that are the candidate's, reported as findings with exit 0: no tests (pytest exit 5), failing
tests, collection errors, a suite that produced no report, a timeout ("tests timed out after Ns": the
inner timeout stays below `timeout_s` so the report is still written). Only a missing pytest/coverage or
a failure of this driver is a crash (non-zero exit, one line on stderr).
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import sys
import tempfile
import xml.etree.ElementTree as ElementTree
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from checks._common import (
    CheckCrashed,
    ParsedFile,
    Report,
    ToolResult,
    finding,
    importance_key,
    is_test_path,
    one_line,
    parse_python,
    python_files,
    run_main,
    run_tool,
    share,
)
from checks.base import FindingDict, ToolContext, module_command

CHECK_ID = "candidate_tests"
CATEGORY = "testing"
TIMEOUT_S = 300.0
INNER_TIMEOUT_S = TIMEOUT_S - 75.0  # leaves time for the probe, `coverage json` and the report
REPORT_TIMEOUT_S = 30.0
PROBE_TIMEOUT_S = 30.0
COVERAGE_RC = Path(__file__).resolve().parent / "config" / "coveragerc"
OMIT = ("tests/*", "*/tests/*", "test/*", "*/test/*", "*/test_*.py", "test_*.py", "*_test.py", "*/conftest.py",
        "conftest.py", "*/migrations/*", "*/alembic/versions/*", "*/.venv/*", "*/venv/*", "*/site-packages/*",
        "*/node_modules/*")
MAX_JUNIT_BYTES = 20_000_000
MAX_FAILURE_FINDINGS = 50
LIB_DIR = str(Path(__file__).resolve().parent.parent)  # the directory that holds the `checks` package

HTTP_NAMES = frozenset({"TestClient", "test_client", "APIClient", "AsyncClient", "ASGITransport", "WSGITransport",
                        "LiveServerTestCase", "APITestCase"})
HTTP_METHODS = frozenset({"get", "post", "put", "patch", "delete", "head", "options", "request"})
MOCK_MODULES = ("unittest.mock", "mock", "pytest_mock", "respx", "responses", "freezegun", "pytest_httpx",
                "requests_mock", "aioresponses")
MOCK_NAMES = frozenset({"monkeypatch", "mocker", "MagicMock", "Mock", "AsyncMock", "patch", "httpx_mock",
                        "requests_mock", "respx_mock"})


class CandidateTestsCheck:
    """The candidate's own tests under coverage, in the candidate's environment (testing)."""

    id = CHECK_ID
    categories: tuple[str, ...] = (CATEGORY,)
    environment = "candidate"
    timeout_s = TIMEOUT_S

    def command(self, context: ToolContext) -> list[str]:
        """`python -m checks.candidate_tests --submission S --out O` with the candidate's Python."""
        return module_command(self.id, context)


CHECK = CandidateTestsCheck()


# --- what the test code shows (AST only) ----------------------------------------------------------------


def _imported_modules(tree: ast.AST) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
            modules.update(f"{node.module}.{alias.name}" for alias in node.names)
    return modules


def _names(tree: ast.AST) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            found.add(node.id)
        elif isinstance(node, ast.Attribute):
            found.add(node.attr)
        elif isinstance(node, ast.arg):
            found.add(node.arg)
    return found


def _path_call(node: ast.AST) -> bool:
    """`x.get("/notes")`-style: an HTTP verb method called with a URL path or URL as first argument."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in HTTP_METHODS):
        return False
    first = node.args[0] if node.args else None
    if isinstance(first, ast.JoinedStr) and first.values:
        first = first.values[0]
    return isinstance(first, ast.Constant) and isinstance(first.value, str) and \
        first.value.startswith(("/", "http://", "https://"))


def test_code_facts(tests: Sequence[ParsedFile]) -> tuple[bool, bool]:
    """(http_tests, mocks_used) from the test files' syntax trees."""
    http = mocks = False
    for item in tests:
        modules = _imported_modules(item.tree)
        names = _names(item.tree)
        if names & HTTP_NAMES or "django.test.Client" in modules or "rest_framework.test" in modules or \
                any(_path_call(node) for node in ast.walk(item.tree)):
            http = True
        if any(module == m or module.startswith(m + ".") for module in modules for m in MOCK_MODULES) or \
                names & MOCK_NAMES:
            mocks = True
    return http, mocks


# --- JUnit XML ----------------------------------------------------------------------------------------------


@dataclass
class JUnitCounts:
    """Test outcomes from a JUnit XML report."""

    found: int = 0
    passed: int = 0
    failed: int = 0
    errors: int = 0
    skipped: int = 0


@dataclass(frozen=True)
class CaseProblem:
    """A test case that failed or errored, as the JUnit report names it."""

    classname: str
    name: str
    outcome: str
    message: str


def read_junit(path: Path) -> tuple[JUnitCounts, list[CaseProblem]] | None:
    """Counts and failed/errored cases from pytest's JUnit XML; None when missing, too large or unsafe."""
    try:
        if path.stat().st_size > MAX_JUNIT_BYTES:
            return None
        data = path.read_bytes()
    except OSError:
        return None
    if re.search(rb"<!DOCTYPE|<!ENTITY", data, re.IGNORECASE):
        return None  # no DTDs or entities: nothing to expand
    try:
        root = ElementTree.fromstring(data)
    except ElementTree.ParseError:
        return None
    counts = JUnitCounts()
    problems: list[CaseProblem] = []
    for case in root.iter("testcase"):
        outcome = _case_outcome(case)
        counts.found += 1
        setattr(counts, outcome, getattr(counts, outcome) + 1)
        if outcome in ("failed", "errors"):
            message = next((child.get("message", "") for child in case if child.tag in ("failure", "error")), "")
            problems.append(CaseProblem(case.get("classname", ""), case.get("name", ""), outcome, message))
    return counts, problems


def _case_outcome(case: ElementTree.Element) -> str:
    tags = {child.tag for child in case}
    if "error" in tags:
        return "errors"
    if "failure" in tags:
        return "failed"
    if "skipped" in tags:
        return "skipped"
    return "passed"


def locate(problem: CaseProblem, tests: dict[str, ParsedFile]) -> tuple[str | None, int | None]:
    """The test file (and the test function's line) a JUnit case refers to, when it can be found."""
    function = problem.name.split("[", 1)[0]
    dotted = problem.classname or problem.name
    parts = [part for part in dotted.split(".") if part]
    for cut in range(len(parts), 0, -1):
        rel = "/".join(parts[:cut]) + ".py"
        if rel in tests:
            line = next((node.lineno for node in ast.walk(tests[rel].tree)
                         if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == function),
                        None)
            return rel, line
    return None, None


def problem_finding(problem: CaseProblem, tests: dict[str, ParsedFile]) -> FindingDict:
    """A finding for a failed or errored test, located in its file when possible."""
    name = ".".join(part for part in (problem.classname, problem.name) if part)
    what = "failed" if problem.outcome == "failed" else "errored"
    rule = "test-failed" if problem.outcome == "failed" else "test-error"
    file, line = locate(problem, tests)
    return finding(f"test `{name}` {what}: {one_line(problem.message, 200)}", file, line, rule, CATEGORY)


# --- coverage -------------------------------------------------------------------------------------------------


def read_coverage(path: Path) -> dict[str, float] | None:
    """coverage_percent / line_coverage / branch_coverage from `coverage json`'s totals."""
    try:
        totals = json.loads(path.read_text(encoding="utf-8"))["totals"]
        statements = float(totals["num_statements"])
        covered = float(totals["covered_lines"])
        branches = float(totals.get("num_branches", 0))
        covered_branches = float(totals.get("covered_branches", 0))
        percent = float(totals["percent_covered"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    line_coverage = share(covered, statements)
    return {"coverage_percent": round(percent, 2), "line_coverage": line_coverage,
            "branch_coverage": share(covered_branches, branches) if branches else line_coverage}


# --- running ------------------------------------------------------------------------------------------------


def candidate_env() -> dict[str, str]:
    """The sandbox's environment for the candidate's suite, minus the grader's own paths and tool settings."""
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("COVERAGE_", "PYTEST_")) and name != "PYTHONPATH"}
    paths = [entry for entry in os.environ.get("PYTHONPATH", "").split(os.pathsep)
             if entry and os.path.realpath(entry) != os.path.realpath(LIB_DIR)]
    if paths:
        env["PYTHONPATH"] = os.pathsep.join(paths)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.setdefault("HOME", tempfile.gettempdir())
    return env


def tool_versions(cwd: Path) -> dict[str, str]:
    """pytest's and coverage's versions in this interpreter; CheckCrashed when either is missing."""
    probe = "import coverage, pytest; print(pytest.__version__, coverage.__version__)"
    result = run_tool([sys.executable, "-I", "-c", probe], cwd, candidate_env(), PROBE_TIMEOUT_S)
    words = result.stdout.split()
    if result.returncode != 0 or len(words) != 2:
        reason = one_line(result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "no output", 200)
        raise CheckCrashed(f"pytest and coverage must be installed in the candidate's environment: {reason}")
    return {"pytest": words[0], "coverage": words[1]}


# Threads only, not greenlets. With `--concurrency=thread,greenlet` coverage's tracer now and then spins
# forever inside a garbage-collection callback (seen in 2 of 21 runs of the orders-api FastAPI reference's
# tests under load, none in 24 with threads only): a hung suite costs the candidate every testing point,
# while without greenlet tracing the code async SQLAlchemy runs in greenlets is under-counted (93% instead
# of 99% for that reference). A wrong zero is worse than a few points too few.
COVERAGE_CONCURRENCY = "thread"


def run_suite(submission: Path, out: Path, data_file: Path, timeout: float) -> ToolResult:
    """The candidate's pytest suite under coverage, cwd = the (read-only) submission."""
    argv = [sys.executable, "-m", "coverage", "run", f"--rcfile={COVERAGE_RC}", "--branch",
            f"--data-file={data_file}", f"--source={submission}", f"--omit={','.join(OMIT)}",
            f"--concurrency={COVERAGE_CONCURRENCY}",
            "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={out / 'junit.xml'}", str(submission)]
    return run_tool(argv, submission, candidate_env(), timeout)


def coverage_json(submission: Path, data_file: Path, target: Path) -> dict[str, float] | None:
    """Run `coverage json` on the data file and read its totals (None when there is no data)."""
    if not data_file.exists():
        return None
    argv = [sys.executable, "-m", "coverage", "json", f"--rcfile={COVERAGE_RC}", f"--data-file={data_file}",
            "-o", str(target), "-i", "-q"]
    result = run_tool(argv, submission, candidate_env(), REPORT_TIMEOUT_S)
    return read_coverage(target) if result.returncode == 0 else None


def outcome_findings(result: ToolResult, timeout: float, report_found: bool) -> list[FindingDict]:
    """Findings that explain pytest's exit status."""
    if result.timed_out:
        return [finding(f"tests timed out after {timeout:.0f}s", rule="tests-timeout", category=CATEGORY)]
    code = result.returncode
    if code == 5:
        return [finding("no tests found (pytest collected nothing)", rule="no-tests", category=CATEGORY)]
    if code == 2:
        return [finding(f"the test run was interrupted (collection errors?): {_tail(result)}",
                        rule="tests-interrupted", category=CATEGORY)]
    if code not in (0, 1) or not report_found:
        return [finding(f"the test run failed without a usable report (exit {code}): {_tail(result)}",
                        rule="tests-crashed", category=CATEGORY)]
    return []


DURATION = re.compile(r"\s+in\s+[\d.]+s\b.*$")


def _tail(result: ToolResult) -> str:
    """The most telling line of pytest's output: the first `E   ...` line, else the first ERROR, else the last."""
    lines = [line.strip() for line in (result.stdout + "\n" + result.stderr).splitlines() if line.strip()]
    for prefix in ("E ", "ERROR"):
        chosen = next((line for line in lines if line.startswith(prefix)), None)
        if chosen is not None:
            return one_line(chosen.removeprefix("E ").strip(), 200)
    return one_line(DURATION.sub("", lines[-1]) if lines else "no output", 200)


def analyse(submission: Path, out: Path, args: argparse.Namespace) -> Report:
    """Metrics, findings and tool versions for one submission."""
    timeout = float(args.timeout)
    with tempfile.TemporaryDirectory(prefix="grader-tests-") as tmp_name:
        tmp = Path(tmp_name)
        tools = tool_versions(tmp)
        junit = out / "junit.xml"
        junit.unlink(missing_ok=True)
        result = run_suite(submission, out, tmp / ".coverage", timeout)
        report = None if result.timed_out else read_junit(junit)
        coverage = None if result.timed_out else coverage_json(submission, tmp / ".coverage", tmp / "coverage.json")
    parsed_tests, _ = parse_python([item for item in python_files(submission) if is_test_path(item.rel)])
    by_rel = {item.source.rel: item for item in parsed_tests}
    http, mocks = test_code_facts(parsed_tests)
    counts, problems = report if report is not None else (JUnitCounts(), [])
    findings = outcome_findings(result, timeout, report is not None)
    if not parsed_tests and not any(item.get("rule") == "no-tests" for item in findings):
        findings.append(finding("no test files in the repository", rule="no-tests", category=CATEGORY))
    failures = sorted((problem_finding(problem, by_rel) for problem in problems), key=importance_key)
    findings += failures[:MAX_FAILURE_FINDINGS]
    if parsed_tests:
        findings += [finding(message, rule=rule, category=CATEGORY, severity="info") for ok, message, rule in (
            (http, "no test exercises the HTTP endpoints", "no-http-tests"),
            (mocks, "no test uses mocks or monkeypatching", "no-mocks")) if not ok]
    return suite_metrics(counts, coverage, http, mocks), findings, tools


def suite_metrics(counts: JUnitCounts, coverage: dict[str, float] | None, http: bool, mocks: bool) -> dict[str, float]:
    """The candidate_tests metrics (see the module docstring)."""
    ran = counts.found - counts.skipped
    metrics: dict[str, float] = {
        "tests_found": counts.found, "tests_passed": counts.passed, "tests_failed": counts.failed,
        "tests_errors": counts.errors, "tests_skipped": counts.skipped, "pass_rate": share(counts.passed, ran),
        "http_tests": 1.0 if http else 0.0, "mocks_used": 1.0 if mocks else 0.0,
    }
    metrics.update(coverage or {"coverage_percent": 0.0, "line_coverage": 0.0, "branch_coverage": 0.0})
    return metrics


def _extra_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--timeout", type=float, default=INNER_TIMEOUT_S,
                        help=f"seconds the suite may run (default {INNER_TIMEOUT_S:.0f})")


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    return run_main(CHECK_ID, analyse, argv, _extra_args)


if __name__ == "__main__":
    sys.exit(main())
