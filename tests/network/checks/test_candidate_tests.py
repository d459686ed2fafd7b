"""checks.candidate_tests, run for real in candidate interpreters installed from the package index: FastAPI's
stack, Django, pytest-django. The runs that need no packages beyond the tools are
tests/unit/checks/test_candidate_tests.py.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import skip_or_fail
from tests.unit.checks.test_candidate_tests import DJANGO_TEST, RUNNER_FIXTURES, measured_files, runner_message
from tests.unit.checks.test_common import BAD, FASTAPI_REF, GOOD, readonly, run_check, snapshot

__all__ = ["readonly"]  # the fixture, imported for pytest


CANDIDATE_PACKAGES = ("fastapi==0.115.12", "pydantic==2.11.4", "httpx==0.28.1", "pytest>=8", "coverage>=7.4")
DJANGO_PACKAGES = ("Django==5.2.8", "pytest>=8", "coverage>=7.4")


def candidate_venv(tmp_path_factory: pytest.TempPathFactory, name: str, packages: tuple[str, ...]) -> str:
    """A candidate environment as the sandbox builds one: the app's packages plus pytest and coverage."""
    venv = tmp_path_factory.mktemp(name) / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
    python = str(venv / "bin" / "python")
    result = subprocess.run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check", *packages],
                            capture_output=True, text=True, timeout=600, check=False)
    if result.returncode != 0:
        skip_or_fail(f"could not install the candidate packages: {result.stderr.strip()[-300:]}")
    return python


@pytest.fixture(scope="module")
def candidate_python(tmp_path_factory: pytest.TempPathFactory) -> str:
    """FastAPI's stack, pytest and coverage."""
    return candidate_venv(tmp_path_factory, "candidate", CANDIDATE_PACKAGES)


@pytest.fixture(scope="module")
def django_python(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Django, pytest and coverage: no pytest-django."""
    return candidate_venv(tmp_path_factory, "django", DJANGO_PACKAGES)


@pytest.fixture(scope="module")
def pytest_django_python(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Django, pytest, coverage and pytest-django (a project that declares it)."""
    return candidate_venv(tmp_path_factory, "pytest-django", (*DJANGO_PACKAGES, "pytest-django==4.11.1"))


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
    assert [(item["rule"], item["severity"]) for item in run.findings] == [("test-runner", "info")]
    assert run.report is not None and set(run.report["tools"]) == {"pytest", "coverage", "runner"}
    assert run.report["tools"]["runner"] == "pytest"
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


def test_django_tests_in_app_tests_py_run_with_manage_py(
    tmp_path: Path, readonly: Callable[[Path], Path], django_python: str,
) -> None:
    """pytest collects nothing from `shelf/tests.py`; `manage.py test` runs its three TestCase tests."""
    submission = readonly(RUNNER_FIXTURES / "django-manage")
    before = snapshot(submission)
    run = run_check("candidate_tests", submission, tmp_path / "out", python=django_python)
    assert run.returncode == 0, run.stderr
    assert snapshot(submission) == before
    metrics = run.metrics
    assert (metrics["tests_found"], metrics["tests_passed"], metrics["tests_failed"], metrics["tests_errors"]) == (
        3, 2, 1, 0)
    assert metrics["pass_rate"] == round(100 * 2 / 3, 2) and metrics["http_tests"] == 1
    assert run.report is not None and run.report["tools"]["runner"] == "django"
    assert run.report["tools"]["django"] == "5.2.8"
    assert runner_message(run).startswith("tests run with `python manage.py test`")
    failed = next(item for item in run.findings if item["rule"] == "test-failed")
    assert (failed["file"], failed["line"]) == ("shelf/tests.py", 11)
    assert "ReadingTimeTests.test_partial_minutes_round_up" in failed["message"] and "1 != 2" in failed["message"]
    # application code only: no tests.py, manage.py or migrations
    assert measured_files(tmp_path / "out") == {
        "bookshelf_site/__init__.py", "bookshelf_site/settings.py", "bookshelf_site/urls.py",
        "bookshelf_site/wsgi.py", "shelf/__init__.py", "shelf/models.py", "shelf/reading.py", "shelf/views.py"}
    assert 60 < metrics["coverage_percent"] < 100  # views and reading ran; wsgi.py never imported


def test_pytest_django_gets_the_settings_module_from_manage_py(
    tmp_path: Path, readonly: Callable[[Path], Path], pytest_django_python: str,
) -> None:
    """Without `--ds` every test module fails collection (ImproperlyConfigured) and nothing runs."""
    run = run_check("candidate_tests", readonly(RUNNER_FIXTURES / "django-pytest"), tmp_path / "out",
                    python=pytest_django_python)
    assert run.returncode == 0, run.stderr
    assert (run.metrics["tests_found"], run.metrics["tests_passed"], run.metrics.get("collection_errors")) == (2, 2, 0)
    assert run.report is not None and run.report["tools"]["runner"] == "pytest-django"
    assert runner_message(run).startswith("tests run with `pytest --ds=errands_site.settings`")
    assert "tests/test_errands.py" not in measured_files(tmp_path / "out")
    assert run.metrics["coverage_percent"] > 80


def test_pytest_style_django_tests_without_pytest_django_run_after_django_setup(
    tmp_path: Path, readonly: Callable[[Path], Path], django_python: str,
) -> None:
    """django.setup() lets the module import; the test needing pytest-django's `client` fixture still errors."""
    run = run_check("candidate_tests", readonly(RUNNER_FIXTURES / "django-pytest"), tmp_path / "out",
                    python=django_python)
    assert run.returncode == 0, run.stderr
    metrics = run.metrics
    assert (metrics["tests_found"], metrics["tests_passed"], metrics["tests_errors"]) == (2, 1, 1)
    assert run.report is not None and run.report["tools"]["runner"] == "pytest+django-setup"
    assert "DJANGO_SETTINGS_MODULE=errands_site.settings" in runner_message(run)
    note = next(item for item in run.findings if item["rule"] == "runner-notes")
    assert "pytest-django is not installed" in note["message"] and note["severity"] == "warning"
    errored = next(item for item in run.findings if item["rule"] == "test-error")
    assert errored["file"] == "tests/test_errands.py" and "test_list_over_http" in errored["message"]


def test_a_django_run_that_stops_before_its_tests(tmp_path: Path, django_python: str) -> None:
    submission = tmp_path / "sub"
    (submission / "site_cfg").mkdir(parents=True)
    (submission / "manage.py").write_text(
        "import os, sys\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'site_cfg.settings')\n"
        "from django.core.management import execute_from_command_line\nexecute_from_command_line(sys.argv)\n")
    (submission / "site_cfg" / "__init__.py").write_text("")
    (submission / "site_cfg" / "settings.py").write_text("import os\nSECRET_KEY = os.environ['NOT_SET_ANYWHERE']\n")
    (submission / "site_cfg" / "tests.py").write_text(DJANGO_TEST)
    run = run_check("candidate_tests", submission, tmp_path / "out", python=django_python)
    assert run.returncode == 0, run.stderr
    assert run.metrics["tests_found"] == 0
    crashed = next(item for item in run.findings if item["rule"] == "tests-crashed")
    assert "python manage.py test" in crashed["message"] and "NOT_SET_ANYWHERE" in crashed["message"]
