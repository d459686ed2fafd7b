"""Runs the candidate's tests with Django's runner, unittest discovery, or pytest after `django.setup()`.

`checks.candidate_tests` runs this file BY PATH under `coverage run`, in the candidate's interpreter and
process, with the candidate's project as working directory:

    python -m coverage run ... <checks>/suite_shim.py django   --root R --report F --project DIR
    python -m coverage run ... <checks>/suite_shim.py unittest --root R --report F [--start DIR ...]
    python -m coverage run ... <checks>/suite_shim.py pytest   --root R --report F --project DIR
                                                               --settings MODULE -- PYTEST_ARGS...

Standard library only, and it imports nothing of the grader: its own directory is replaced on `sys.path`
by the project's directory before any candidate code runs, exactly where `python manage.py` or
`python -m unittest` would put it, so candidate code sees itself and its packages only.

`django` runs `manage.py test --noinput` as the candidate's own manage.py does (`runpy`, `__main__`), so
its settings, its TEST_RUNNER and anything manage.py sets up apply. `unittest` discovers `test*.py` from the
root, and from each `--start` folder (relative to the root: a test folder that is not a package, which
discovery from the root never enters) as `cd <its parent> && python -m unittest discover -s <folder>`
would: the folder is its own top level and its parent is on sys.path. Both record every test's outcome
by wrapping `unittest.TestResult`'s methods (every runner's result class derives from it and calls up to
it), in this process only (Django's parallel workers replay their events here), and write `--report` as
JSON:

    {"tests": [{"id", "outcome": passed|failed|errors|skipped, "ran": bool, "file", "line", "message",
                "detail": the failure's traceback with its exception chain (its last MAX_DETAIL characters)}],
     "error": null or "what stopped the run"}

`ran` is false for a module that failed to import and for a class or module whose set-up failed: no test
in them ran. `file`/`line` (relative to the root) point at the deepest frame of the failure inside the
project's test code, else inside the project, else at the test method. Expected failures count as
skipped (as pytest's xfail), unexpected successes as failures.

`pytest` (a Django project with pytest-style tests and no pytest-django): sets DJANGO_SETTINGS_MODULE when
it is not set, calls `django.setup()` and runs `pytest.main(PYTEST_ARGS)`; pytest's JUnit report carries
the outcomes, and no JSON is written.

Exit status: 0 when every test that ran passed, 1 when some failed or the run stopped, 5 when no test ran.
Everything written here is self-reported by the candidate's process, like pytest's JUnit report.
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import json
import os
import re
import runpy
import sys
import traceback
import unittest
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # annotations only: this file also runs on interpreters older than the grader's
    ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]

MAX_MESSAGE = 500
MAX_DETAIL = 8000
TRACEBACK_HEADER = "Traceback (most recent call last)"
TRACEBACK_FILE = re.compile(r'File "([^"]+)", line (\d+)')
NO_TESTS_EXIT = 5
TEST_DIRS = frozenset({"tests", "test"})


def is_test_file(rel: str) -> bool:
    """tests/ or test/ directories, test_*.py, *_test.py, tests.py, conftest.py (as checks._common says)."""
    parts = rel.split("/")
    name = parts[-1]
    return any(part in TEST_DIRS for part in parts[:-1]) or name.startswith("test_") or \
        name.endswith("_test.py") or name in ("tests.py", "conftest.py")


class Recorder:
    """Collects one record per test from the wrapped TestResult methods."""

    def __init__(self, root: str) -> None:
        self.root = os.path.realpath(root)
        self.pid = os.getpid()
        self.records: list[dict[str, Any]] = []
        self.open: dict[int, dict[str, Any]] = {}

    # --- events ---

    def started(self, test: Any) -> None:
        if os.getpid() == self.pid:
            self.open[id(test)] = {"test": test, "outcome": None, "err": None, "message": None,
                                   "ran": not _failed_import(test)}

    def outcome(self, test: Any, outcome: str, err: ExcInfo | None = None, message: str | None = None) -> None:
        """A test's result; a test that was never started (a class's set-up error) is recorded at once."""
        if os.getpid() != self.pid:
            return
        state = self.open.get(id(test))
        if state is None:
            self._emit(test, outcome, err, message, ran=False)
            return
        if state["outcome"] not in ("failed", "errors"):  # the first failure wins (subtests, tear-down)
            state.update(outcome=outcome, err=err, message=message)

    def stopped(self, test: Any) -> None:
        state = self.open.pop(id(test), None) if os.getpid() == self.pid else None
        if state is not None:
            self._emit(test, state["outcome"] or "passed", state["err"], state["message"], ran=state["ran"])

    # --- records ---

    def _emit(self, test: Any, outcome: str, err: ExcInfo | None, message: str | None, ran: bool) -> None:
        file, line = self.location(test, err) if outcome in ("failed", "errors") else (None, None)
        if message is None and err is not None:
            message = _exception_line(err)
        self.records.append({"id": _test_id(test), "outcome": outcome, "ran": ran and outcome != "skipped",
                             "file": file, "line": line, "message": (message or "")[:MAX_MESSAGE],
                             "detail": _exception_detail(err)})

    def relative(self, filename: str | None) -> str | None:
        """`filename` relative to the root, in posix form, or None when it lies outside."""
        if not filename:
            return None
        path = os.path.realpath(filename)
        if path != self.root and not path.startswith(self.root + os.sep):
            return None
        return os.path.relpath(path, self.root).replace(os.sep, "/")

    def location(self, test: Any, err: ExcInfo | None) -> tuple[str | None, int | None]:
        """Where a failure happened: the deepest frame in test code, else in the project, else the test."""
        frames = [(rel, lineno) for rel, lineno in self._frames(err) if rel is not None]
        if err is not None and _failed_import(test):  # the import's traceback is only in the message's text
            frames += [(rel, int(line)) for file, line in TRACEBACK_FILE.findall(str(err[1]))
                       if (rel := self.relative(file)) is not None]
        in_tests = [frame for frame in frames if is_test_file(frame[0])]
        if in_tests or frames:
            return (in_tests or frames)[-1]
        return self._definition(test)

    def _frames(self, err: ExcInfo | None) -> list[tuple[str | None, int]]:  # (relative file or None, line)
        if err is None:
            return []
        return [(self.relative(frame.filename), frame.lineno or 0) for frame in traceback.extract_tb(err[2])]

    def _definition(self, test: Any) -> tuple[str | None, int | None]:
        if _failed_import(test):  # unittest's stand-in for a module that did not import
            return self._module_file(str(getattr(test, "_testMethodName", ""))), None
        method = getattr(test, str(getattr(test, "_testMethodName", "")), None)
        try:
            function = inspect.unwrap(method) if method is not None else None
            code = getattr(function, "__code__", None)
            if code is not None:
                return self.relative(code.co_filename), code.co_firstlineno
            return self.relative(inspect.getsourcefile(type(test))), None
        except (TypeError, ValueError, OSError):
            return None, None

    def _module_file(self, module: str) -> str | None:
        base = os.path.join(self.root, *module.split("."))
        for candidate in (base + ".py", os.path.join(base, "__init__.py")):
            if os.path.isfile(candidate):
                return self.relative(candidate)
        return None

    def write(self, path: str, error: str | None) -> None:
        for test in [state["test"] for state in self.open.values()]:  # started, never finished
            self.stopped(test)
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump({"tests": self.records, "error": error}, handle)
        os.replace(tmp, path)


def _failed_import(test: Any) -> bool:
    return type(test).__name__ == "_FailedTest"


def _test_id(test: Any) -> str:
    try:
        return str(test.id())
    except Exception:  # a hostile or broken test object: its repr will do
        return repr(test)[:200]


def _exception_line(err: ExcInfo) -> str:
    """`Type: message` on one line; for an error that carries a formatted traceback in its message (unittest's
    failed imports), that traceback's last line, which names the real error."""
    text = "".join(traceback.format_exception_only(err[0], err[1])).strip()
    if TRACEBACK_HEADER in text:
        text = [line for line in text.splitlines() if line.strip()][-1]
    return " ".join(text.split())


def _exception_detail(err: ExcInfo | None) -> str:
    """The failure's whole traceback with its chain (where a client's connection error names the address it
    tried), its end kept when long."""
    if err is None:
        return ""
    try:
        return "".join(traceback.format_exception(*err))[-MAX_DETAIL:]
    except Exception:  # a hostile exception whose formatting fails: no detail
        return ""


def install(recorder: Recorder) -> None:
    """Wrap unittest.TestResult's methods so every result class reports to `recorder`."""
    base = unittest.TestResult

    def wrap(name: str, hook: Callable[..., None]) -> None:
        original = getattr(base, name)

        def wrapper(self: unittest.TestResult, *args: Any, **kwargs: Any) -> Any:
            with contextlib.suppress(Exception):  # recording must never change the run
                hook(*args, **kwargs)
            return original(self, *args, **kwargs)

        wrapper.__name__ = name
        setattr(base, name, wrapper)

    wrap("startTest", lambda test: recorder.started(test))
    wrap("stopTest", lambda test: recorder.stopped(test))
    wrap("addSuccess", lambda test: recorder.outcome(test, "passed"))
    wrap("addFailure", lambda test, err: recorder.outcome(test, "failed", err))
    wrap("addError", lambda test, err: recorder.outcome(test, "errors", err))
    wrap("addSkip", lambda test, reason: recorder.outcome(test, "skipped", message=str(reason)))
    wrap("addExpectedFailure", lambda test, err: recorder.outcome(test, "skipped", message="expected failure"))
    wrap("addUnexpectedSuccess", lambda test: recorder.outcome(test, "failed", message="unexpected success"))
    wrap("addSubTest", lambda test, subtest, err: _subtest(recorder, test, err))


def _subtest(recorder: Recorder, test: Any, err: ExcInfo | None) -> None:
    if err is not None:
        failure = issubclass(err[0], getattr(test, "failureException", AssertionError))
        recorder.outcome(test, "failed" if failure else "errors", err)


# --- the runs ----------------------------------------------------------------------------------------------


def use_project_path(project: str) -> None:
    """Replace this file's directory on sys.path with the project's, as `python manage.py` would have it."""
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [entry for entry in sys.path if entry and os.path.abspath(entry) != here]
    sys.path.insert(0, project)


def run_django(project: str) -> int:
    """`python manage.py test --noinput` in `project`; the exit status manage.py ends with."""
    os.chdir(project)
    manage = os.path.join(project, "manage.py")
    sys.argv = [manage, "test", "--noinput"]
    try:
        runpy.run_path(manage, run_name="__main__")
    except SystemExit as exc:
        return _exit_status(exc.code)
    return 0


def _exit_status(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def run_unittest(root: str, starts: list[str]) -> int:
    """unittest discovery from the root and from each start folder (see the module docstring)."""
    loader = unittest.TestLoader()
    suite = unittest.TestSuite([loader.discover(root, pattern="test*.py", top_level_dir=root)])
    for start in starts:
        directory = os.path.join(root, start)
        if os.path.isdir(directory):
            suite.addTest(_discover_from(loader, directory))
    result = unittest.TextTestRunner(stream=sys.stderr, verbosity=1).run(suite)
    if result.testsRun == 0:
        return NO_TESTS_EXIT
    return 0 if result.wasSuccessful() else 1


def _discover_from(loader: unittest.TestLoader, directory: str) -> unittest.TestSuite:
    """Discovery from a folder that is its own top level, with its parent on sys.path (its modules import
    their neighbours from there). The modules it imported from the folder leave sys.modules afterwards, so
    another folder's `test_api` is imported as itself, not found already imported."""
    parent = os.path.dirname(directory)
    if parent not in sys.path:
        sys.path.insert(0, parent)
    before = set(sys.modules)
    suite = loader.discover(directory, pattern="test*.py", top_level_dir=directory)
    for name in set(sys.modules) - before:
        if _defined_in(sys.modules.get(name), directory):
            sys.modules.pop(name, None)
    return suite


def _defined_in(module: Any, directory: str) -> bool:
    file = getattr(module, "__file__", None)
    return isinstance(file, str) and os.path.abspath(file).startswith(directory + os.sep)


def run_pytest_after_django_setup(settings: str, pytest_args: list[str]) -> int:
    """DJANGO_SETTINGS_MODULE (unless set) and django.setup(), as a conftest.py would, then pytest."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", settings)
    try:
        import django  # type: ignore[import-not-found,unused-ignore]  # the candidate's, when it has one

        django.setup()
    except Exception as exc:  # the tests will show the same error; pytest still runs them
        print(f"suite_shim: django.setup() failed: {_exception_line((type(exc), exc, None))}", file=sys.stderr)
    import pytest

    return int(pytest.main(pytest_args))


def main(argv: list[str]) -> int:
    """Command-line entry point (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="suite_shim")
    parser.add_argument("mode", choices=("django", "unittest", "pytest"))
    parser.add_argument("--root", required=True)
    parser.add_argument("--report", required=True)
    parser.add_argument("--project")
    parser.add_argument("--settings")
    parser.add_argument("--start", action="append", default=[], help="unittest: a folder to discover from too")
    parser.add_argument("pytest_args", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    root = os.path.abspath(args.root)
    project = os.path.abspath(args.project or root)
    use_project_path(project if args.mode == "django" else root)
    if args.mode == "pytest":
        if project != root:
            sys.path.insert(1, project)
        return run_pytest_after_django_setup(args.settings or "", [a for a in args.pytest_args if a != "--"])
    recorder = Recorder(root)
    install(recorder)
    error = None
    try:
        status = run_django(project) if args.mode == "django" else run_unittest(root, args.start)
    except BaseException as exc:  # the run itself stopped: say why, as Python would have
        traceback.print_exc()
        error, status = _exception_line((type(exc), exc, exc.__traceback__)), 1
    recorder.write(args.report, error)
    if status == 0 and not any(record["ran"] for record in recorder.records):
        return NO_TESTS_EXIT
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
