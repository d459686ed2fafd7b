"""checks.runner_choice: which runner the candidate's own tests are run with, from the project's files alone."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from checks.runner_choice import (
    DJANGO,
    PYTEST,
    PYTEST_DJANGO,
    PYTEST_DJANGO_SETUP,
    UNITTEST,
    ProjectFacts,
    RunnerChoice,
    choose_runner,
    collect_facts,
    read_pytest_config,
    settings_from_manage,
    style_of_tests,
    unittest_class_names,
)
from tests.conftest import REPO_ROOT

FIXTURES = REPO_ROOT / "tests" / "fixtures" / "candidate_tests"

MANAGE = 'import os\nos.environ.setdefault("DJANGO_SETTINGS_MODULE", "site_cfg.settings")\n'
DJANGO_CASES = "from django.test import TestCase\n\n\nclass T(TestCase):\n    def test_a(self):\n        pass\n"
PYTEST_FUNCTION = "def test_a():\n    assert True\n"


def project(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def choice_for(root: Path, files: dict[str, str], pytest_django: bool = False) -> RunnerChoice:
    return choose_runner(collect_facts(project(root, files)), pytest_django)


# --- Django projects --------------------------------------------------------------------------------------------


def test_django_testcases_without_pytest_config_run_with_manage_py(tmp_path: Path) -> None:
    choice = choice_for(tmp_path, {"manage.py": MANAGE, "shop/tests.py": DJANGO_CASES})
    assert (choice.runner, choice.settings, choice.project_dir) == (DJANGO, "site_cfg.settings", "")
    assert choice.command == "python manage.py test" and not choice.notes


def test_pytest_django_declared_but_unconfigured_still_uses_manage_py(tmp_path: Path) -> None:
    """pytest would not even collect `tests.py` without a configuration saying so."""
    choice = choice_for(tmp_path, {"manage.py": MANAGE, "shop/tests.py": DJANGO_CASES}, pytest_django=True)
    assert choice.runner == DJANGO


def test_pytest_django_gets_the_settings_from_manage_py(tmp_path: Path) -> None:
    choice = choice_for(tmp_path, {"manage.py": MANAGE, "tests/test_api.py": "import pytest\n" + PYTEST_FUNCTION},
                        pytest_django=True)
    assert (choice.runner, choice.settings) == (PYTEST_DJANGO, "site_cfg.settings")
    assert choice.command == "pytest --ds=site_cfg.settings"
    assert "from manage.py" in choice.reason


@pytest.mark.parametrize(("name", "text"), [
    ("pytest.ini", "[pytest]\nDJANGO_SETTINGS_MODULE = site_cfg.test_settings\n"),
    ("pyproject.toml", '[tool.pytest.ini_options]\nDJANGO_SETTINGS_MODULE = "site_cfg.test_settings"\n'),
    ("setup.cfg", "[metadata]\nname = x\n\n[tool:pytest]\naddopts = -q --ds=site_cfg.test_settings\n"),
    ("tox.ini", "[tox]\nenvlist = py311\n\n[pytest]\naddopts = --ds site_cfg.test_settings\n"),
])
def test_settings_named_by_the_pytest_configuration_are_not_overridden(tmp_path: Path, name: str, text: str) -> None:
    root = project(tmp_path, {"manage.py": MANAGE, name: text, "tests/test_api.py": DJANGO_CASES})
    config = read_pytest_config(root)
    assert config is not None and config.settings == "site_cfg.test_settings" and config.source.startswith(name)
    choice = choose_runner(collect_facts(root), pytest_django=True)
    assert (choice.runner, choice.settings, choice.command) == (PYTEST_DJANGO, None, "pytest")


def test_settings_named_in_a_conftest_are_not_overridden(tmp_path: Path) -> None:
    conftest = 'import os\nos.environ.setdefault("DJANGO_SETTINGS_MODULE", "site_cfg.ci")\n'
    choice = choice_for(tmp_path, {"manage.py": MANAGE, "conftest.py": conftest, "tests/test_a.py": PYTEST_FUNCTION},
                        pytest_django=True)
    assert (choice.runner, choice.settings) == (PYTEST_DJANGO, None)


def test_pytest_config_without_pytest_django_and_only_testcases_falls_back_to_manage_py(tmp_path: Path) -> None:
    choice = choice_for(tmp_path, {"manage.py": MANAGE, "pytest.ini": "[pytest]\nDJANGO_SETTINGS_MODULE = x.s\n",
                                   "shop/tests/test_models.py": DJANGO_CASES})
    assert choice.runner == DJANGO
    assert len(choice.notes) == 1 and "pytest-django is not installed" in choice.notes[0]


def test_pytest_style_django_tests_without_pytest_django_get_django_setup(tmp_path: Path) -> None:
    choice = choice_for(tmp_path, {"manage.py": MANAGE, "tests/test_api.py": PYTEST_FUNCTION})
    assert (choice.runner, choice.settings) == (PYTEST_DJANGO_SETUP, "site_cfg.settings")
    assert "pytest-django" in choice.notes[0]


def test_a_conftest_that_sets_django_up_runs_plain_pytest(tmp_path: Path) -> None:
    conftest = "import django\nfrom django.conf import settings\n\nsettings.configure()\ndjango.setup()\n"
    choice = choice_for(tmp_path, {"manage.py": MANAGE, "conftest.py": conftest, "tests/test_api.py": PYTEST_FUNCTION})
    assert (choice.runner, choice.settings) == (PYTEST, None)


def test_manage_py_in_a_subdirectory(tmp_path: Path) -> None:
    choice = choice_for(tmp_path, {"backend/manage.py": MANAGE, "backend/shop/tests.py": DJANGO_CASES,
                                   "deep/er/still/manage.py": MANAGE})
    assert (choice.runner, choice.project_dir) == (DJANGO, "backend")
    assert choice.command == "cd backend && python manage.py test"


@pytest.mark.parametrize(("source", "expected"), [
    (MANAGE, "site_cfg.settings"),
    ('import os\n\ndef main():\n    os.environ["DJANGO_SETTINGS_MODULE"] = "a.b.c"\n', "a.b.c"),
    ('import os\nos.environ.setdefault("DJANGO_SETTINGS_MODULE", f"{x}.settings")\n', None),
    ('import os\nos.environ.setdefault("DJANGO_SETTINGS_MODULE", "not a module")\n', None),
    ("print('hello')\n", None),
])
def test_settings_from_manage(source: str, expected: str | None) -> None:
    assert settings_from_manage(ast.parse(source)) == expected


# --- projects that are not Django -----------------------------------------------------------------------------


def test_unittest_only_project_runs_with_unittest(tmp_path: Path) -> None:
    cases = "import unittest\n\n\nclass T(unittest.TestCase):\n    def test_a(self):\n        pass\n"
    choice = choice_for(tmp_path, {"lib/core.py": "X = 1\n", "tests.py": cases, "requirements.txt": "requests\n"})
    assert (choice.runner, choice.command) == (UNITTEST, "python -m unittest discover")


UNITTEST_CASES = "import unittest\n\n\nclass T(unittest.TestCase):\n    def test_a(self):\n        pass\n"


def test_unittest_also_discovers_test_folders_the_root_cannot_reach(tmp_path: Path) -> None:
    """Discovery only enters packages: each test folder that is none is a start of its own, from its parent."""
    choice = choice_for(tmp_path, {
        "service/slug.py": "X = 1\n", "service/tests/test_slug.py": UNITTEST_CASES,  # no __init__.py anywhere
        "tests/test_top.py": UNITTEST_CASES,  # a top-level tests/ folder that is no package
        "pkg/__init__.py": "", "pkg/tests/__init__.py": "", "pkg/tests/test_in_package.py": UNITTEST_CASES,
        "lib/__init__.py": "", "lib/tests/test_loose.py": UNITTEST_CASES,  # a package's test folder that is none
        "api/tests/__init__.py": "", "api/tests/unit/__init__.py": "",
        "api/tests/unit/test_deep.py": UNITTEST_CASES,
        "scripts/test_connection.py": UNITTEST_CASES,  # not under a test folder: no start of its own
        "tests/helpers.py": "X = 1\n",
    })
    assert choice.runner == UNITTEST
    # api/ is the lowest folder that is no package above api/tests/unit/test_deep.py
    assert choice.start_dirs == ("api", "lib/tests", "service/tests", "tests")
    assert choice.command == ("python -m unittest discover; python -m unittest discover -s api; "
                              "cd lib && python -m unittest discover -s tests; "
                              "cd service && python -m unittest discover -s tests; "
                              "python -m unittest discover -s tests")


def test_unittest_from_the_root_alone_when_it_reaches_every_test(tmp_path: Path) -> None:
    choice = choice_for(tmp_path, {"shop/__init__.py": "", "shop/tests/__init__.py": "",
                                   "shop/tests/test_cart.py": UNITTEST_CASES, "test_root.py": UNITTEST_CASES})
    assert (choice.runner, choice.start_dirs, choice.command) == (UNITTEST, (), "python -m unittest discover")


def test_unittest_cases_with_pytest_declared_run_with_pytest(tmp_path: Path) -> None:
    cases = "import unittest\n\n\nclass T(unittest.TestCase):\n    def test_a(self):\n        pass\n"
    choice = choice_for(tmp_path, {"tests/test_core.py": cases, "requirements-dev.txt": "pytest-cov==5.0\n"})
    assert choice.runner == PYTEST


@pytest.mark.parametrize("files", [
    {"conftest.py": "import pytest\n"},
    {"pyproject.toml": "[tool.pytest.ini_options]\ntestpaths = ['tests']\n"},
    {"tests/test_a.py": PYTEST_FUNCTION},
    {"app.py": "X = 1\n"},  # nothing at all: pytest says "no tests found"
])
def test_pytest_everywhere_else(tmp_path: Path, files: dict[str, str]) -> None:
    assert choice_for(tmp_path, files).runner == PYTEST


def test_project_testcase_base_classes_are_followed() -> None:
    base = ast.parse("from rest_framework.test import APITestCase\n\n\nclass ApiBase(APITestCase):\n    pass\n")
    tests = ast.parse("from .base import ApiBase\n\n\nclass TestOrders(ApiBase):\n    def test_a(self):\n"
                      "        pass\n\n\nclass Helper:\n    pass\n")
    plain = ast.parse("class TestOrders:\n    def test_a(self):\n        pass\n")
    known = unittest_class_names(_parsed(base, tests))
    assert {"ApiBase", "TestOrders"} <= known
    assert style_of_tests(tests, known) == UNITTEST
    assert style_of_tests(plain, frozenset()) == PYTEST
    assert style_of_tests(ast.parse("HELPER = 1\n"), known) is None


def _parsed(*trees: ast.Module) -> list[object]:
    from checks._common import ParsedFile, SourceFile

    return [ParsedFile(SourceFile(Path(f"f{i}.py"), f"f{i}.py"), tree, "", 0) for i, tree in enumerate(trees)]


# --- the fixtures the real runs use ---------------------------------------------------------------------------


@pytest.mark.parametrize(("fixture", "pytest_django", "runner"), [
    ("django-manage", False, DJANGO),
    ("django-manage", True, DJANGO),
    ("django-pytest", True, PYTEST_DJANGO),
    ("django-pytest", False, PYTEST_DJANGO_SETUP),
    ("unittest-only", False, UNITTEST),
    ("conftest-no-tests", False, PYTEST),
])
def test_fixture_projects(fixture: str, pytest_django: bool, runner: str) -> None:
    facts = collect_facts(FIXTURES / fixture)
    assert choose_runner(facts, pytest_django).runner == runner


def test_facts_of_the_django_fixture() -> None:
    facts = collect_facts(FIXTURES / "django-manage")
    assert facts == ProjectFacts(unittest_files=("shelf/tests.py",), manage_py="manage.py",
                                 manage_settings="bookshelf_site.settings")


def test_settings_only_pytest_django_would_read_are_given_when_it_is_missing(tmp_path: Path) -> None:
    """The ini's DJANGO_SETTINGS_MODULE means nothing to plain pytest: it is set before django.setup()."""
    choice = choice_for(tmp_path, {"manage.py": MANAGE, "pytest.ini": "[pytest]\nDJANGO_SETTINGS_MODULE = a.ci\n",
                                   "tests/test_api.py": PYTEST_FUNCTION})
    assert (choice.runner, choice.settings) == (PYTEST_DJANGO_SETUP, "a.ci")
    assert "taken from pytest.ini" in choice.reason


def test_a_manage_py_that_is_not_djangos_is_no_django_project(tmp_path: Path) -> None:
    flask_script = "from flask_script import Manager\nfrom app import app\n\nManager(app).run()\n"
    cases = "import unittest\n\n\nclass T(unittest.TestCase):\n    def test_a(self):\n        pass\n"
    choice = choice_for(tmp_path, {"manage.py": flask_script, "tests.py": cases})
    assert choice.runner == UNITTEST
