"""Static check `candidate_tests`: the candidate's own test suite, run the way the project runs it, under coverage.

Evidence for testing. Runs in the CANDIDATE's environment (its interpreter has pytest and coverage):

    python -m checks.candidate_tests --submission DIR --out DIR [--timeout SECONDS]

The runner comes from the project's own files (`checks.runner_choice`, decision order in its docstring):
pytest (pytest-django with `--ds <settings from manage.py>` when the configuration names none), Django's
`manage.py test`, or `unittest` discovery. Every runner runs under coverage with the grader's rcfile, in
a throwaway writable copy of the submission in a temp dir (`<copy>`, see `writable_copy`: tests that keep a
SQLite file or anything else in the repository work as on the author's machine, and the read-only
submission is never written), from its root (or the directory of its manage.py), with no cache, no
bytecode and the coverage data in the same temp dir, all removed afterwards:

    python -m coverage run --rcfile <checks/config/coveragerc> --branch --data-file <tmp> --source <copy>
        --omit <test code, conftest, migrations, test settings, manage.py, virtualenvs>
        -m pytest -q -p no:cacheprovider --junitxml <out>/junit.xml [--ds SETTINGS] <copy>
      | <checks>/suite_shim.py django|unittest|pytest ...     (run by path: checks/ is not on sys.path)
    python -m coverage json --rcfile ... --data-file <tmp> -o <out>/coverage.json   (run in <copy>: the
        files measured, relative to the submission, kept)

pytest's outcomes come from its JUnit XML; `manage.py test` and unittest outcomes from the JSON the shim
writes (one record per test, with file:line of a failure). The runner used is `tools["runner"]` and an
info finding (`test-runner`) that names the command.

The grader's coverage configuration is used (`--rcfile`), never the candidate's .coveragerc; the runners do
read the candidate's own test configuration, conftest.py and settings: the suite is theirs.

CAUTION: every number here is self-reported by code the candidate controls. A conftest.py can rewrite
outcomes, skip collection, or fake coverage. These metrics are evidence of effort, not proof; the hidden
test suite is what measures behaviour.

Metrics: `tests_found` (tests that RAN: passed + failed + errored; skipped tests and test modules that
failed to import or set up are not counted), `tests_passed`, `tests_failed`, `tests_errors` (including
collection errors), `tests_skipped`, `collection_errors` (modules or classes none of whose tests ran);
`pass_rate` = passed * 100 / (found + collection errors), 0 when none ran; `coverage_percent`
(coverage.py's total, branches included), `line_coverage`, `branch_coverage` (equal to line_coverage when
the code has no branches), all three 0 when no test ran (coverage from imports alone is not the tests'
work: a `coverage-without-tests` finding gives the measured figure); `http_tests` (1 when the tests call
HTTP endpoints: FastAPI/Starlette TestClient, Flask test_client(), Django/DRF Client, httpx
AsyncClient/ASGI transports, or `client.get("/...")`-style calls); `mocks_used` (1 when unittest.mock,
mock, pytest-mock's `mocker`, `monkeypatch`, respx, responses, freezegun or pytest-httpx appear, and no test
called the challenge's upstream for real: see below); `upstream_calls` (how many tests did; -1 when the
challenge declares no upstream).

The challenge's upstream: the variables of its `[app] env` whose value holds `{upstream_port}` (their names in
$GRADER_UPSTREAMS, `checks.formats.UPSTREAMS_ENV`) point the suite at a port nothing serves. A failed test
whose report shows a refused connection and names that address (its URL, `host:port`, urllib3's `host='H',
port=P`) or the variable called the real service instead of a mock: a `calls-real-upstream` finding names it,
and `mocks_used` is 0. A test that called it through an app which turned the refusal into a status code
without logging it leaves no such trace and is not named.

Outcomes that are the candidate's, reported as findings with exit 0: no tests, failing tests, collection
errors, a suite that produced no report, a run that stopped before its tests (a settings error, a test
database that could not be made), a timeout ("tests timed out after Ns": the inner timeout stays below
the check's own so the report is still written). Only a missing pytest/coverage or a failure of this driver
is a crash (non-zero exit, one line on stderr).
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import json
import os
import re
import shutil
import stat
import sys
import tempfile
import urllib.parse
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator, Sequence
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
from checks.formats import UPSTREAMS_ENV, FindingDict
from checks.runner_choice import (
    DJANGO,
    PYTEST_DJANGO,
    PYTEST_DJANGO_SETUP,
    UNITTEST,
    RunnerChoice,
    choose_runner,
    collect_facts,
)

CHECK_ID = "candidate_tests"
CATEGORY = "testing"
# The suite's own limit: 75 s below the 300 s the host gives the whole check (`grader.checks.registry`), which
# leaves time for the probe, `coverage json` and the report.
INNER_TIMEOUT_S = 225.0
REPORT_TIMEOUT_S = 30.0
PROBE_TIMEOUT_S = 30.0
COVERAGE_RC = Path(__file__).resolve().parent / "config" / "coveragerc"
# Not application code, at any depth below the submission (see omit_patterns): test code as
# checks._common.is_test_path has it, migrations, the settings modules test runs use, manage.py (run by
# `manage.py test`, never by pytest: omitted so both runners measure the same files) and virtualenvs.
OMIT = ("tests/*", "test/*", "test_*.py", "*_test.py", "tests.py", "conftest.py", "migrations/*", "alembic/*",
        "settings_test.py", "settings_tests.py", "settings_testing.py", "testing_settings.py", "settings/test.py",
        "settings/tests.py", "settings/testing.py", "manage.py", ".venv/*", "venv/*", "site-packages/*",
        "node_modules/*")
SHIM = Path(__file__).resolve().parent / "suite_shim.py"
SHIM_REPORT = "suite.json"
MAX_SHIM_REPORT_BYTES = 20_000_000
MAX_JUNIT_BYTES = 20_000_000
MAX_FAILURE_FINDINGS = 50
LIB_DIR = str(Path(__file__).resolve().parent.parent)  # the directory that holds the `checks` package
# The suite runs in a writable copy of the submission (see writable_copy). In Docker the copy is on the
# sandbox's /tmp tmpfs, which counts against the container's memory: past these sizes a file is linked to the
# read-only original instead (still readable, not writable).
COPY_BUDGET_BYTES = 64 * 1024 * 1024
MAX_COPIED_FILE_BYTES = 8 * 1024 * 1024

HTTP_NAMES = frozenset({"TestClient", "test_client", "APIClient", "AsyncClient", "ASGITransport", "WSGITransport",
                        "LiveServerTestCase", "APITestCase"})
HTTP_METHODS = frozenset({"get", "post", "put", "patch", "delete", "head", "options", "request"})
MOCK_MODULES = ("unittest.mock", "mock", "pytest_mock", "respx", "responses", "freezegun", "pytest_httpx",
                "requests_mock", "aioresponses")
# MockTransport: httpx's own stand-in server; dependency_overrides: FastAPI's way to swap a collaborator.
MOCK_NAMES = frozenset({"monkeypatch", "mocker", "MagicMock", "Mock", "AsyncMock", "patch", "httpx_mock",
                        "requests_mock", "respx_mock", "MockTransport", "dependency_overrides", "create_autospec",
                        "mock_open"})


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


# --- outcomes: pytest's JUnit XML, the shim's JSON -------------------------------------------------------------


@dataclass
class SuiteCounts:
    """Test outcomes. `found` counts the tests that ran (passed + failed + errors among them); `not_run`
    counts modules or classes that failed to import or set up (also in `errors`), whose tests never ran."""

    found: int = 0
    passed: int = 0
    failed: int = 0
    errors: int = 0
    skipped: int = 0
    not_run: int = 0

    def add(self, outcome: str, ran: bool) -> None:
        """Count one test case with outcome passed/failed/errors/skipped."""
        if outcome == "skipped":
            self.skipped += 1
        elif ran:
            self.found += 1
            setattr(self, outcome, getattr(self, outcome) + 1)
        elif outcome == "errors":
            self.not_run += 1
            self.errors += 1


@dataclass(frozen=True)
class CaseProblem:
    """A test case that failed or errored, as the runner names it, and where it happened when known."""

    classname: str
    name: str
    outcome: str
    message: str
    file: str | None = None
    line: int | None = None
    ran: bool = True  # False: a module that did not import or a class whose set-up failed
    detail: str = ""  # the runner's whole report of the failure (traceback, exception chain), when it gives one


OUTCOMES = ("passed", "failed", "errors", "skipped")
COLLECTION_FAILURE = "collection failure"  # pytest's JUnit message for a module that did not collect


def read_junit(path: Path) -> tuple[SuiteCounts, list[CaseProblem]] | None:
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
    counts = SuiteCounts()
    problems: list[CaseProblem] = []
    for case in root.iter("testcase"):
        outcome = _case_outcome(case)
        failure = next((child for child in case if child.tag in ("failure", "error")), None)
        message = failure.get("message", "") if failure is not None else ""
        ran = not (outcome == "errors" and message == COLLECTION_FAILURE)
        counts.add(outcome, ran)
        if outcome in ("failed", "errors"):
            detail = (failure.text or "") if failure is not None else ""
            problems.append(CaseProblem(case.get("classname", ""), case.get("name", ""), outcome, message, ran=ran,
                                        detail=detail))
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


@dataclass(frozen=True)
class ShimReport:
    """What checks/suite_shim.py recorded: counts, failed/errored tests, and what stopped the run if anything."""

    counts: SuiteCounts
    problems: list[CaseProblem]
    error: str | None


def read_shim_report(path: Path) -> ShimReport | None:
    """The shim's JSON, validated and bounded (candidate code wrote it); None when missing or malformed."""
    try:
        if path.stat().st_size > MAX_SHIM_REPORT_BYTES:
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("tests"), list):
        return None
    counts = SuiteCounts()
    problems: list[CaseProblem] = []
    for record in data["tests"]:
        if not isinstance(record, dict) or record.get("outcome") not in OUTCOMES:
            continue
        outcome, ran = str(record["outcome"]), record.get("ran") is True
        counts.add(outcome, ran)
        if outcome in ("failed", "errors"):
            file, line = _safe_location(record.get("file"), record.get("line"))
            detail = record.get("detail")
            problems.append(CaseProblem("", one_line(str(record.get("id", "")), 300), outcome,
                                        str(record.get("message") or ""), file, line, ran,
                                        detail if isinstance(detail, str) else ""))
    error = data.get("error")
    return ShimReport(counts, problems, one_line(error, 300) if isinstance(error, str) and error else None)


def _safe_location(file: object, line: object) -> tuple[str | None, int | None]:
    """A relative, non-escaping posix path and a positive line, else None for each."""
    if not isinstance(file, str) or not file or file.startswith("/") or ".." in file.split("/") or "\\" in file:
        return None, None
    return file[:500], line if isinstance(line, int) and not isinstance(line, bool) and line > 0 else None


def locate(problem: CaseProblem, tests: dict[str, ParsedFile]) -> tuple[str | None, int | None]:
    """The test file (and the test function's line) a JUnit case refers to, when it can be found."""
    if problem.file is not None:
        return problem.file, problem.line
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
    name = test_name(problem)
    what = "failed" if problem.outcome == "failed" else "errored"
    rule = "test-failed" if problem.outcome == "failed" else "test-error"
    file, line = locate(problem, tests)
    return finding(f"test `{name}` {what}: {one_line(problem.message, 200)}", file, line, rule, CATEGORY)


def test_name(problem: CaseProblem) -> str:
    """The test as its runner names it: `module.Class.test` (pytest's classname and name), or the shim's id."""
    return ".".join(part for part in (problem.classname, problem.name) if part)


# --- the challenge's upstream: tests that called it for real --------------------------------------------------

# How HTTP clients report a connection nothing accepted: the OS's words, httpx/httpcore, urllib3/requests,
# aiohttp, asyncio.
REFUSED = re.compile(r"connection refused|ConnectionRefusedError|ConnectError|Errno 111\b|NewConnectionError|"
                     r"Failed to establish a new connection|Cannot connect to host|Connect call failed", re.IGNORECASE)


def declared_upstreams(environ: dict[str, str]) -> dict[str, str]:
    """{variable: address} of the challenge's upstream, from the variables $GRADER_UPSTREAMS names."""
    names = [name.strip() for name in environ.get(UPSTREAMS_ENV, "").split(",") if name.strip()]
    return {name: environ[name] for name in names if environ.get(name)}


def upstream_markers(name: str, address: str) -> tuple[str, ...]:
    """How a failure's text may name the upstream: its variable, its URL, and its host and port as clients
    print them (`host:port`, urllib3's `host='H', port=P`, asyncio's `('H', P)`)."""
    markers = [name, address.rstrip("/")]
    with contextlib.suppress(ValueError):
        parts = urllib.parse.urlsplit(address)
        if parts.hostname and parts.port:
            markers += [f"{parts.hostname}:{parts.port}", f"host='{parts.hostname}', port={parts.port}",
                        f"('{parts.hostname}', {parts.port})"]
    return tuple(marker for marker in markers if marker)


def called_upstream(problem: CaseProblem, upstreams: dict[str, str]) -> str | None:
    """The variable of the upstream a failed test tried to reach for real (its report shows a refused
    connection and names that upstream), else None."""
    text = f"{problem.message}\n{problem.detail}"
    if not REFUSED.search(text):
        return None
    return next((name for name, address in upstreams.items()
                 if any(marker in text for marker in upstream_markers(name, address))), None)


def upstream_call_findings(problems: Sequence[CaseProblem], upstreams: dict[str, str],
                           tests: dict[str, ParsedFile]) -> list[FindingDict]:
    """A `calls-real-upstream` finding per test that called the challenge's upstream instead of a mock."""
    findings = []
    for problem in problems:
        name = called_upstream(problem, upstreams)
        if name is not None and problem.ran:
            file, line = locate(problem, tests)
            findings.append(finding(
                f"test `{test_name(problem)}` called the real service at ${name} ({upstreams[name]}, unreachable "
                "while the tests run) instead of a mock: replace it with one (respx, httpx.MockTransport, "
                "unittest.mock)", file, line, "calls-real-upstream", CATEGORY))
    return findings


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


@contextlib.contextmanager
def scratch_dir() -> Iterator[Path]:
    """A temporary directory for the run, removed afterwards whatever the suite left in it (folders it made
    read-only included); what cannot be removed stays for the sandbox's own clean-up."""
    path = Path(tempfile.mkdtemp(prefix="grader-tests-"))
    try:
        yield path
    finally:
        _make_folders_writable(path)
        shutil.rmtree(path, ignore_errors=True)


def _make_folders_writable(root: Path) -> None:
    """u+rwx on every folder below root, each before it is entered; links are never followed (one may point
    into the submission)."""
    with contextlib.suppress(OSError):
        os.chmod(root, stat.S_IRWXU)
    for folder, dirs, _files in os.walk(root):
        for name in dirs:
            child = os.path.join(folder, name)
            if not os.path.islink(child):
                with contextlib.suppress(OSError):
                    os.chmod(child, stat.S_IRWXU)


def writable_copy(submission: Path, target: Path) -> Path:
    """A copy of the submission at `target` that the suite may write to (tests that keep a SQLite file or
    anything else in the repository), so the run measures the tests, not the read-only mount. Folders are
    always made; files are copied, writable by their owner, while they fit MAX_COPIED_FILE_BYTES and the
    COPY_BUDGET_BYTES in all, else linked to the original; the submission's own links are kept as links.
    Nothing is written to the submission; `target` lies in the check's temporary directory, removed with it
    (in Docker, with the sandbox's /tmp)."""
    budget = COPY_BUDGET_BYTES
    target.mkdir(mode=0o700)
    for folder, dirs, files in os.walk(submission):
        here = Path(folder)
        into = target / here.relative_to(submission)
        for name in sorted(dirs):
            if (here / name).is_symlink():
                dirs.remove(name)  # kept as a link, not entered
                _copy_link(here / name, into / name)
            else:
                (into / name).mkdir(mode=0o700)
        for name in sorted(files):
            budget -= _copy_file(here / name, into / name, budget)
    return target


def _copy_link(source: Path, target: Path) -> None:
    os.symlink(os.readlink(source), target)


def _copy_file(source: Path, target: Path, budget: int) -> int:
    """Copy (or link) one file; the bytes of the budget it used."""
    info = source.lstat()
    if stat.S_ISLNK(info.st_mode):
        _copy_link(source, target)
        return 0
    if not stat.S_ISREG(info.st_mode):
        return 0  # the intake lets no special file through
    if info.st_size > min(MAX_COPIED_FILE_BYTES, budget):
        target.symlink_to(source)
        return 0
    shutil.copyfile(source, target, follow_symlinks=False)
    target.chmod(stat.S_IMODE(info.st_mode) | stat.S_IRUSR | stat.S_IWUSR)
    return info.st_size


def candidate_env() -> dict[str, str]:
    """The sandbox's environment for the candidate's suite, minus the grader's own paths and tool settings."""
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("COVERAGE_", "PYTEST_")) and name not in ("PYTHONPATH", UPSTREAMS_ENV)}
    paths = [entry for entry in os.environ.get("PYTHONPATH", "").split(os.pathsep)
             if entry and os.path.realpath(entry) != os.path.realpath(LIB_DIR)]
    if paths:
        env["PYTHONPATH"] = os.pathsep.join(paths)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.setdefault("HOME", tempfile.gettempdir())
    return env


PROBE = """import json, coverage, pytest
from importlib import metadata
def version(name):
    try:
        return metadata.version(name)
    except Exception:
        return None
print(json.dumps({"pytest": pytest.__version__, "coverage": coverage.__version__,
                  "django": version("Django"), "pytest-django": version("pytest-django")}))
"""


def tool_versions(cwd: Path) -> dict[str, str]:
    """Versions of pytest, coverage and (when installed) Django and pytest-django in this interpreter;
    CheckCrashed when pytest or coverage is missing. Package metadata only: nothing of Django is imported."""
    result = run_tool([sys.executable, "-I", "-c", PROBE], cwd, candidate_env(), PROBE_TIMEOUT_S)
    try:
        found = json.loads(result.stdout.strip().splitlines()[-1]) if result.returncode == 0 else None
    except (ValueError, IndexError):
        found = None
    if not isinstance(found, dict) or not found.get("pytest") or not found.get("coverage"):
        reason = one_line(result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "no output", 200)
        raise CheckCrashed(f"pytest and coverage must be installed in the candidate's environment: {reason}")
    return {name: str(value) for name, value in found.items() if isinstance(value, str) and value}


# Threads only, not greenlets. With `--concurrency=thread,greenlet` coverage's tracer now and then spins
# forever inside a garbage-collection callback (seen in 2 of 21 runs of the orders-api FastAPI reference's
# tests under load, none in 24 with threads only): a hung suite costs the candidate every testing point,
# while without greenlet tracing the code async SQLAlchemy runs in greenlets is under-counted (93% instead
# of 99% for that reference). A wrong zero is worse than a few points too few.
COVERAGE_CONCURRENCY = "thread"


def omit_patterns(submission: Path) -> list[str]:
    """OMIT anchored at the submission, at any depth (`<root>/**/tests/*`): the same files whatever the runner's
    working directory, and nothing above the submission can match."""
    return [f"{submission}/**/{pattern}" for pattern in OMIT]


def coverage_run(submission: Path, data_file: Path) -> list[str]:
    """`coverage run` with the grader's rcfile, measuring the submission's application code only."""
    return [sys.executable, "-m", "coverage", "run", f"--rcfile={COVERAGE_RC}", "--branch",
            f"--data-file={data_file}", f"--source={submission}", f"--omit={','.join(omit_patterns(submission))}",
            f"--concurrency={COVERAGE_CONCURRENCY}"]


def suite_command(choice: RunnerChoice, submission: Path, out: Path, tmp: Path) -> tuple[list[str], Path]:
    """argv and working directory of the candidate's suite under coverage, for the chosen runner."""
    prefix = coverage_run(submission, tmp / ".coverage")
    pytest_args = ["-q", "-p", "no:cacheprovider", f"--junitxml={out / 'junit.xml'}"]
    if choice.runner == PYTEST_DJANGO and choice.settings:
        pytest_args.append(f"--ds={choice.settings}")
    pytest_args.append(str(submission))
    project = submission / choice.project_dir if choice.project_dir else submission
    shim = [str(SHIM), "--root", str(submission), "--report", str(tmp / SHIM_REPORT), "--project", str(project)]
    if choice.runner == DJANGO:
        return [*prefix, *shim, "django"], project
    if choice.runner == UNITTEST:
        starts = [argument for start in choice.start_dirs for argument in ("--start", start)]
        return [*prefix, *shim, *starts, "unittest"], submission
    if choice.runner == PYTEST_DJANGO_SETUP:
        return [*prefix, *shim, "--settings", choice.settings or "", "pytest", "--", *pytest_args], submission
    return [*prefix, "-m", "pytest", *pytest_args], submission


def uses_shim(choice: RunnerChoice) -> bool:
    """Whether the shim's JSON (not pytest's JUnit XML) carries the outcomes."""
    return choice.runner in (DJANGO, UNITTEST)


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
        return [_timeout_finding(timeout)]
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


def shim_outcome_findings(result: ToolResult, timeout: float, report: ShimReport | None,
                          choice: RunnerChoice) -> list[FindingDict]:
    """Findings that explain a `manage.py test` or unittest run (the shim's report, else its exit status)."""
    if result.timed_out:
        return [_timeout_finding(timeout)]
    command = f"`{choice.command}`"
    if report is None:
        return [finding(f"the test run ({command}) failed without a usable report (exit {result.returncode}): "
                        f"{_last_line(result)}", rule="tests-crashed", category=CATEGORY)]
    if report.error is not None:
        return [finding(f"the test run ({command}) stopped: {report.error}", rule="tests-crashed", category=CATEGORY)]
    counts = report.counts
    if counts.found == 0 and counts.not_run == 0 and counts.skipped == 0:
        if result.returncode in (0, 5):
            return [finding(f"no tests found ({command} ran none)", rule="no-tests", category=CATEGORY)]
        return [finding(f"{command} failed before any test ran (exit {result.returncode}): {_last_line(result)}",
                        rule="tests-crashed", category=CATEGORY)]
    first = next((problem for problem in report.problems if not problem.ran), None)
    if first is not None:
        return [finding(f"{counts.not_run} test module(s) or class(es) could not be imported or set up, so none of "
                        f"their tests ran: {first.name}: {one_line(first.message, 200)}",
                        rule="tests-not-run", category=CATEGORY)]
    return []


def _timeout_finding(timeout: float) -> FindingDict:
    return finding(f"tests timed out after {timeout:.0f}s", rule="tests-timeout", category=CATEGORY)


DURATION = re.compile(r"\s+in\s+[\d.]+s\b.*$")


def _tail(result: ToolResult) -> str:
    """The most telling line of pytest's output: the first `E   ...` line, else the first ERROR, else the last."""
    lines = [line.strip() for line in (result.stdout + "\n" + result.stderr).splitlines() if line.strip()]
    for prefix in ("E ", "ERROR"):
        chosen = next((line for line in lines if line.startswith(prefix)), None)
        if chosen is not None:
            return one_line(chosen.removeprefix("E ").strip(), 200)
    return one_line(DURATION.sub("", lines[-1]) if lines else "no output", 200)


def _last_line(result: ToolResult) -> str:
    """The last line of a run's output: where Python and Django print what stopped them."""
    lines = [line.strip() for line in (result.stdout + "\n" + result.stderr).splitlines() if line.strip()]
    return one_line(lines[-1] if lines else "no output", 200)


@dataclass(frozen=True)
class SuiteRun:
    """The candidate's suite after it ran: outcomes, failed tests and the findings explaining the run."""

    counts: SuiteCounts
    problems: list[CaseProblem]
    findings: list[FindingDict]
    timed_out: bool


def run_suite(choice: RunnerChoice, submission: Path, out: Path, tmp: Path, timeout: float) -> SuiteRun:
    """Run the suite with the chosen runner under coverage and read its outcomes."""
    junit = out / "junit.xml"
    junit.unlink(missing_ok=True)
    (out / "coverage.json").unlink(missing_ok=True)
    argv, cwd = suite_command(choice, submission, out, tmp)
    result = run_tool(argv, cwd, candidate_env(), timeout)
    if uses_shim(choice):
        shim = None if result.timed_out else read_shim_report(tmp / SHIM_REPORT)
        counts, problems = (shim.counts, shim.problems) if shim is not None else (SuiteCounts(), [])
        return SuiteRun(counts, problems, shim_outcome_findings(result, timeout, shim, choice), result.timed_out)
    report = None if result.timed_out else read_junit(junit)
    counts, problems = report if report is not None else (SuiteCounts(), [])
    return SuiteRun(counts, problems, outcome_findings(result, timeout, report is not None), result.timed_out)


def analyse(submission: Path, out: Path, args: argparse.Namespace) -> Report:
    """Metrics, findings and tool versions for one submission."""
    timeout = float(args.timeout)
    facts = collect_facts(submission)
    with scratch_dir() as tmp:
        tools = tool_versions(tmp)
        choice = choose_runner(facts, "pytest-django" in tools)
        tools["runner"] = choice.runner
        try:
            work = writable_copy(submission, tmp / "submission")
        except OSError as exc:
            raise CheckCrashed(f"the submission could not be copied to a writable folder: {exc}") from None
        suite = run_suite(choice, work, out, tmp, timeout)
        coverage = None if suite.timed_out else coverage_json(work, tmp / ".coverage", out / "coverage.json")
    parsed_tests, _ = parse_python([item for item in python_files(submission) if is_test_path(item.rel)])
    by_rel = {item.source.rel: item for item in parsed_tests}
    http, mocks = test_code_facts(parsed_tests)
    findings = list(suite.findings)
    if not parsed_tests and not any(item.get("rule") == "no-tests" for item in findings):
        findings.append(finding("no test files in the repository", rule="no-tests", category=CATEGORY))
    if suite.counts.found == 0 and suite.counts.skipped and not findings:
        findings.append(finding(f"every test was skipped ({suite.counts.skipped}): none ran", rule="tests-skipped",
                                category=CATEGORY))
    failures = sorted((problem_finding(problem, by_rel) for problem in suite.problems), key=importance_key)
    findings += failures[:MAX_FAILURE_FINDINGS]
    upstreams = declared_upstreams(dict(os.environ))
    real_calls = upstream_call_findings(suite.problems, upstreams, by_rel)
    findings += real_calls[:MAX_FAILURE_FINDINGS]
    findings += [finding(note, rule="runner-notes", category=CATEGORY) for note in choice.notes]
    if parsed_tests:
        findings += [finding(message, rule=rule, category=CATEGORY, severity="info") for ok, message, rule in (
            (http, "no test exercises the HTTP endpoints", "no-http-tests"),
            (mocks, "no test uses mocks or monkeypatching", "no-mocks")) if not ok]
    metrics = suite_metrics(suite.counts, coverage, http, mocks and not real_calls)
    metrics["upstream_calls"] = float(len(real_calls)) if upstreams else -1.0
    if suite.counts.found == 0 and coverage and coverage["coverage_percent"] > 0:
        findings.append(finding(f"{coverage['coverage_percent']:g}% coverage was measured although no test ran (code "
                                "imported by conftest.py, settings or test modules): it is not counted",
                                rule="coverage-without-tests", category=CATEGORY, severity="info"))
    findings.append(runner_finding(choice))
    return metrics, findings, tools


def runner_finding(choice: RunnerChoice) -> FindingDict:
    """Which runner ran the tests, and why (info)."""
    return finding(f"tests run with `{choice.command}`: {choice.reason}", rule="test-runner", category=CATEGORY,
                   severity="info")


NO_COVERAGE = {"coverage_percent": 0.0, "line_coverage": 0.0, "branch_coverage": 0.0}


def suite_metrics(counts: SuiteCounts, coverage: dict[str, float] | None, http: bool, mocks: bool) -> dict[str, float]:
    """The candidate_tests metrics (see the module docstring); no coverage when no test ran."""
    metrics: dict[str, float] = {
        "tests_found": counts.found, "tests_passed": counts.passed, "tests_failed": counts.failed,
        "tests_errors": counts.errors, "tests_skipped": counts.skipped, "collection_errors": counts.not_run,
        "pass_rate": share(counts.passed, counts.found + counts.not_run),
        "http_tests": 1.0 if http else 0.0, "mocks_used": 1.0 if mocks else 0.0,
    }
    metrics.update(coverage if coverage and counts.found > 0 else NO_COVERAGE)
    return metrics


def _extra_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--timeout", type=float, default=INNER_TIMEOUT_S,
                        help=f"seconds the suite may run (default {INNER_TIMEOUT_S:.0f})")


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    return run_main(CHECK_ID, analyse, argv, _extra_args)


if __name__ == "__main__":
    sys.exit(main())
