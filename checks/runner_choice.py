"""Which runner the candidate's own tests are run with: pytest, pytest-django, `manage.py test` or unittest.

Standard library only (this runs in the candidate's interpreter, possibly older than the grader's): files are
read with a size cap and Python is parsed with `ast`, never imported. `checks.candidate_tests` calls
`choose_runner(collect_facts(root), pytest_django_importable)`.

Decision order, first match wins (the project's own configuration and files say how its author runs them):

1. A **Django project** (a `manage.py` that imports Django or sets DJANGO_SETTINGS_MODULE, at the root or
   one or two directories down, the shallowest one) that wants pytest: a pytest configuration
   (`pytest.ini`, `.pytest.ini`, pyproject `[tool.pytest.ini_options]`, setup.cfg `[tool:pytest]`, tox.ini
   `[pytest]`), a `conftest.py` or a pytest-style test file (pytest imported, module-level `test*`
   functions, `Test*` classes that are not TestCases):
   a. pytest-django importable in the candidate's environment (it is there only when the project declares
      it) -> **pytest-django**: pytest, with `--ds <settings>` when neither the pytest configuration nor a
      conftest.py names the settings module; the settings come from manage.py's
      `os.environ.setdefault("DJANGO_SETTINGS_MODULE", "...")`.
   b. pytest-django absent and every test is a unittest/Django `TestCase` -> **django** (`manage.py test`):
      Django's runner runs them with the test database pytest-django would have made, and a finding says
      the pytest-django configuration could not be used.
   c. pytest-django absent and some tests are pytest-style -> **pytest** after `DJANGO_SETTINGS_MODULE` is set
      (the pytest configuration's, which only pytest-django would read, else manage.py's; with setdefault
      semantics) and `django.setup()` is called, as a conftest.py usually does (runner id
      `pytest+django-setup`); when a conftest.py names the settings module itself, plain **pytest**. Tests
      that need pytest-django's fixtures or its test database still fail, and a finding says pytest-django
      is missing.
2. A Django project that does not want pytest -> **django** (`manage.py test`), e.g. TestCases in
   `app/tests.py`, a file pytest would not even collect without configuration; also when pytest-django is
   declared, since without a configuration pytest would miss those files.
3. Any other project that wants pytest (configuration, conftest.py or pytest-style tests) -> **pytest**.
4. A project whose tests are all unittest `TestCase`s and whose dependency files never name pytest ->
   **unittest** (`python -m unittest discover` from the root, and from every test folder that discovery
   from the root cannot reach: see `unittest_start_dirs`).
5. Anything else -> **pytest** (it also runs unittest TestCases, and says "no tests found" when there are none).

pytest also runs unittest TestCases, so pytest is chosen whenever the project shows any sign of it; the
other runners are chosen only when the files say the author could not have been using pytest.
"""

from __future__ import annotations

import ast
import configparser
import fnmatch
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from checks._common import ParsedFile, SourceFile, is_test_path, parse_python, python_files, read_bytes, walk_files

PYTEST = "pytest"
PYTEST_DJANGO = "pytest-django"
PYTEST_DJANGO_SETUP = "pytest+django-setup"
DJANGO = "django"
UNITTEST = "unittest"

SETTINGS_VARIABLE = "DJANGO_SETTINGS_MODULE"
DEPENDENCY_FILES = ("requirements.txt", "requirements-dev.txt", "requirements-test.txt", "requirements_dev.txt",
                    "requirements_test.txt", "dev-requirements.txt", "test-requirements.txt", "pyproject.toml",
                    "Pipfile", "setup.cfg", "setup.py", "tox.ini")
PYTEST_WORD = re.compile(r"(?<![\w.-])pytest(?![\w])", re.IGNORECASE)
DS_OPTION = re.compile(r"--ds[= ]\s*([\w.]+)")
MAX_MANAGE_DEPTH = 2  # manage.py at the root, or in `src/` or `backend/app/`
MAX_CONFIG_BYTES = 200_000
UNITTEST_PATTERN = "test*.py"  # what `python -m unittest discover` loads


@dataclass(frozen=True)
class PytestConfig:
    """Where the project configures pytest, and the Django settings module that configuration names."""

    source: str  # e.g. "pytest.ini" or "pyproject.toml [tool.pytest.ini_options]"
    settings: str | None


@dataclass(frozen=True)
class ProjectFacts:
    """What the files say about how the project runs its tests (see the module docstring)."""

    pytest_config: PytestConfig | None = None
    conftests: tuple[str, ...] = ()
    conftest_names_settings: bool = False  # a conftest.py mentions DJANGO_SETTINGS_MODULE or settings.configure
    pytest_style_files: tuple[str, ...] = ()
    unittest_files: tuple[str, ...] = ()
    manage_py: str | None = None  # relative path of the shallowest manage.py
    manage_settings: str | None = None  # the settings module manage.py sets
    pytest_declared: bool = False  # a dependency file names pytest (or a plugin of it)
    unittest_start_dirs: tuple[str, ...] = ()  # where unittest discovery must start besides the root (relative)

    @property
    def project_dir(self) -> str:
        """The directory manage.py lives in, relative to the root ("" for the root itself)."""
        return self.manage_py.rpartition("/")[0] if self.manage_py else ""

    @property
    def wants_pytest(self) -> bool:
        """The project shows pytest in its configuration, its conftest.py files or its test files."""
        return self.pytest_config is not None or bool(self.conftests) or bool(self.pytest_style_files)


@dataclass(frozen=True)
class RunnerChoice:
    """The runner to use, why, and what it needs."""

    runner: str  # PYTEST, PYTEST_DJANGO, PYTEST_DJANGO_SETUP, DJANGO or UNITTEST
    reason: str  # one sentence, for the report
    settings: str | None = None  # the settings module to give (--ds or DJANGO_SETTINGS_MODULE); None: don't
    project_dir: str = ""  # where manage.py is (relative), for the django runners
    notes: tuple[str, ...] = field(default=())  # problems the candidate should know about (warnings)
    start_dirs: tuple[str, ...] = ()  # UNITTEST: folders discovery also starts from (relative to the root)

    @property
    def command(self) -> str:
        """How a developer would type this run."""
        if self.runner == DJANGO:
            where = f"cd {self.project_dir} && " if self.project_dir else ""
            return f"{where}python manage.py test"
        if self.runner == UNITTEST:
            return "; ".join(["python -m unittest discover", *map(_discover_command, self.start_dirs)])
        if self.settings and self.runner == PYTEST_DJANGO:
            return f"pytest --ds={self.settings}"
        if self.settings and self.runner == PYTEST_DJANGO_SETUP:
            return f"DJANGO_SETTINGS_MODULE={self.settings} pytest (after django.setup())"
        return "pytest"


def _discover_command(start: str) -> str:
    """How the author would run the tests of one start folder: from its parent, `-s` the folder."""
    parent, _, name = start.rpartition("/")
    return f"{f'cd {parent} && ' if parent else ''}python -m unittest discover -s {name}"


# --- the decision --------------------------------------------------------------------------------------------


def choose_runner(facts: ProjectFacts, pytest_django: bool) -> RunnerChoice:
    """The runner the project's files point at (decision order in the module docstring)."""
    if facts.manage_py is not None:
        return _django_choice(facts, pytest_django)
    if facts.wants_pytest:
        return RunnerChoice(PYTEST, f"{_pytest_evidence(facts)} shows the project uses pytest")
    if facts.unittest_files and not facts.pytest_declared:
        return RunnerChoice(UNITTEST, "every test is a unittest TestCase and no dependency file names pytest",
                            start_dirs=facts.unittest_start_dirs)
    return RunnerChoice(PYTEST, "pytest is the default runner (it also runs unittest TestCases)")


def _django_choice(facts: ProjectFacts, pytest_django: bool) -> RunnerChoice:
    where = facts.project_dir
    if not facts.wants_pytest:
        return RunnerChoice(DJANGO, f"a Django project ({facts.manage_py}) with no pytest configuration, "
                            "conftest.py or pytest-style test", facts.manage_settings, where)
    configured = facts.pytest_config.settings if facts.pytest_config is not None else None
    if pytest_django:
        named = configured is not None or facts.conftest_names_settings
        return RunnerChoice(PYTEST_DJANGO, f"a Django project set up for pytest, with pytest-django installed "
                            f"({_settings_source(facts)})", None if named else facts.manage_settings, where)
    missing = (f"the tests are set up for pytest ({_pytest_evidence(facts)}) but pytest-django is not installed "
               "from the project's dependencies: declare it in the test requirements")
    if not facts.pytest_style_files:
        return RunnerChoice(DJANGO, "a Django project whose tests are all Django/unittest TestCases; pytest-django "
                            "is not installed, so Django's own runner runs them", facts.manage_settings, where,
                            (missing,))
    if facts.conftest_names_settings:
        return RunnerChoice(PYTEST, "a Django project with pytest-style tests whose conftest.py sets Django up",
                            None, where, (missing,))
    settings = configured or facts.manage_settings
    if settings is None:
        return RunnerChoice(PYTEST, "a Django project with pytest-style tests and no settings module found",
                            None, where, (missing,))
    source = facts.pytest_config.source if configured and facts.pytest_config is not None else facts.manage_py
    return RunnerChoice(PYTEST_DJANGO_SETUP, "a Django project with pytest-style tests and no pytest-django: "
                        f"DJANGO_SETTINGS_MODULE is taken from {source} and django.setup() is called before pytest "
                        "starts", settings, where, (missing,))


def _pytest_evidence(facts: ProjectFacts) -> str:
    if facts.pytest_config is not None:
        return facts.pytest_config.source
    if facts.conftests:
        return facts.conftests[0]
    if facts.pytest_style_files:
        return facts.pytest_style_files[0]
    return "its dependencies"


def _settings_source(facts: ProjectFacts) -> str:
    if facts.pytest_config is not None and facts.pytest_config.settings:
        return f"settings {facts.pytest_config.settings} from {facts.pytest_config.source}"
    if facts.conftest_names_settings:
        return "settings named in conftest.py"
    if facts.manage_settings:
        return f"settings {facts.manage_settings} from {facts.manage_py}"
    return "no settings module found"


# --- facts from the files ------------------------------------------------------------------------------------


def collect_facts(root: Path) -> ProjectFacts:
    """Read the project's pytest configuration, conftest.py files, test files, manage.py and dependency files."""
    sources = python_files(root)
    parsed, _ = parse_python(sources)
    tests = [item for item in parsed if is_test_path(item.source.rel)]
    conftests = [item for item in tests if item.source.rel.rpartition("/")[2] == "conftest.py"]
    case_bases = unittest_class_names(parsed)
    styles = {item.source.rel: style_of_tests(item.tree, case_bases) for item in tests if item not in conftests}
    manage = _shallowest_manage_py(parsed)
    manage_tree = manage.tree if manage is not None else None
    return ProjectFacts(
        pytest_config=read_pytest_config(root),
        conftests=tuple(item.source.rel for item in conftests),
        conftest_names_settings=any(_configures_django(item.tree) for item in conftests),
        pytest_style_files=tuple(rel for rel, style in styles.items() if style == PYTEST),
        unittest_files=tuple(rel for rel, style in styles.items() if style == UNITTEST),
        manage_py=manage.source.rel if manage is not None else None,
        manage_settings=settings_from_manage(manage_tree) if manage_tree is not None else None,
        pytest_declared=pytest_declared(root),
        unittest_start_dirs=unittest_start_dirs(root, [item.rel for item in sources]),
    )


def unittest_start_dirs(root: Path, rels: Iterable[str]) -> tuple[str, ...]:
    """Folders unittest discovery must start from for the `test*.py` modules under a test folder (one whose
    name starts with `test`) that discovery from the root cannot reach: discovery only enters packages, so a
    module is reached from the lowest folder above it that has no `__init__.py` (`service/tests/` for
    `service/tests/test_slug.py`, run as `cd service && python -m unittest discover -s tests`). Such folders
    never overlap: discovery from one never enters another, which is no package."""
    starts: set[str] = set()
    for rel in rels:
        *folders, name = rel.split("/")
        if not fnmatch.fnmatchcase(name, UNITTEST_PATTERN) or not any(part.startswith("test") for part in folders):
            continue
        unreached = [depth for depth in range(1, len(folders) + 1)
                     if not (root.joinpath(*folders[:depth]) / "__init__.py").is_file()]
        if unreached:
            starts.add("/".join(folders[:max(unreached)]))
    return tuple(sorted(starts))


def _shallowest_manage_py(parsed: Sequence[ParsedFile]) -> ParsedFile | None:
    found = [item for item in parsed if item.source.rel.rpartition("/")[2] == "manage.py"
             and item.source.rel.count("/") <= MAX_MANAGE_DEPTH and not is_test_path(item.source.rel)
             and _is_django_manage(item.tree)]
    return min(found, key=lambda item: (item.source.rel.count("/"), item.source.rel), default=None)


def _is_django_manage(tree: ast.Module) -> bool:
    """A manage.py of Django's (it imports django or sets DJANGO_SETTINGS_MODULE), not Flask-Script's."""
    return any(module == "django" or module.startswith("django.") for module in _imported_modules(tree)) or \
        any(isinstance(node, ast.Constant) and node.value == SETTINGS_VARIABLE for node in ast.walk(tree))


def settings_from_manage(tree: ast.Module) -> str | None:
    """The module in `os.environ.setdefault("DJANGO_SETTINGS_MODULE", "x")` or `os.environ[...] = "x"`."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "setdefault" \
                and len(node.args) >= 2 and _is_text(node.args[0], SETTINGS_VARIABLE):
            value = node.args[1]
        elif isinstance(node, ast.Assign) and any(isinstance(target, ast.Subscript) and
                                                  _is_text(target.slice, SETTINGS_VARIABLE)
                                                  for target in node.targets):
            value = node.value
        else:
            continue
        if isinstance(value, ast.Constant) and isinstance(value.value, str) and _is_module_name(value.value):
            return value.value
    return None


def _is_text(node: ast.AST, text: str) -> bool:
    return isinstance(node, ast.Constant) and node.value == text


def _is_module_name(text: str) -> bool:
    return all(part.isidentifier() for part in text.split("."))


def _configures_django(tree: ast.Module) -> bool:
    """A conftest.py that names the settings module or configures settings in code."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and node.value == SETTINGS_VARIABLE:
            return True
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "configure" \
                and isinstance(node.func.value, ast.Name) and node.func.value.id == "settings":
            return True
    return False


# --- test files: pytest-style or unittest-style ------------------------------------------------------------------


def unittest_class_names(files: Iterable[ParsedFile]) -> frozenset[str]:
    """Names of classes that are unittest TestCases: `*TestCase` and, transitively, project classes deriving
    from one (a `BaseAPITest(APITestCase)` makes `BaseAPITest` one too)."""
    bases_of: dict[str, set[str]] = {}
    for item in files:
        for node in ast.walk(item.tree):
            if isinstance(node, ast.ClassDef):
                bases_of.setdefault(node.name, set()).update(_base_names(node))
    known = {name for name, bases in bases_of.items() if any(base.endswith("TestCase") for base in bases)}
    while True:
        more = {name for name, bases in bases_of.items() if name not in known and bases & known}
        if not more:
            return frozenset(known)
        known |= more


def _base_names(node: ast.ClassDef) -> set[str]:
    names = set()
    for base in node.bases:
        if isinstance(base, ast.Name):
            names.add(base.id)
        elif isinstance(base, ast.Attribute):
            names.add(base.attr)
    return names


def style_of_tests(tree: ast.Module, case_bases: frozenset[str]) -> str | None:
    """PYTEST when the file has pytest-only tests (pytest imported, module-level test functions, plain `Test*`
    classes), UNITTEST when its tests are all TestCase classes, None when it holds no test."""
    if any(module == "pytest" or module.startswith("pytest.") for module in _imported_modules(tree)):
        return PYTEST
    unittest_seen = False
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test"):
            return PYTEST
        if not isinstance(node, ast.ClassDef):
            continue
        bases = _base_names(node)
        if any(base.endswith("TestCase") for base in bases) or bases & case_bases or node.name in case_bases:
            unittest_seen = True
        elif node.name.startswith("Test") and _has_test_methods(node):
            return PYTEST
    return UNITTEST if unittest_seen else None


def _has_test_methods(node: ast.ClassDef) -> bool:
    return any(isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.name.startswith("test")
               for item in node.body)


def _imported_modules(tree: ast.Module) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            modules.add(node.module)
    return modules


# --- configuration and dependency files --------------------------------------------------------------------------


def read_pytest_config(root: Path) -> PytestConfig | None:
    """The pytest configuration at the root, in pytest's order of precedence, with the settings it names."""
    for name in ("pytest.ini", ".pytest.ini"):
        text = _read_text(root / name)
        if text is not None:
            return PytestConfig(name, _ini_settings(text, "pytest"))
    pyproject = _read_text(root / "pyproject.toml")
    if pyproject is not None:
        table = _pyproject_pytest_table(pyproject)
        if table is not None:
            return PytestConfig("pyproject.toml [tool.pytest.ini_options]", _settings_in(table))
    for name, section in (("tox.ini", "pytest"), ("setup.cfg", "tool:pytest")):
        text = _read_text(root / name)
        if text is not None and _ini_has_section(text, section):
            return PytestConfig(f"{name} [{section}]", _ini_settings(text, section))
    return None


def _read_text(path: Path) -> str | None:
    if path.is_symlink() or not path.is_file():
        return None
    data = read_bytes(SourceFile(path, path.name), MAX_CONFIG_BYTES)
    return None if data is None else data.decode("utf-8", errors="replace")


def _ini(text: str) -> configparser.RawConfigParser | None:
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keep DJANGO_SETTINGS_MODULE's case
    try:
        parser.read_string(text)
    except configparser.Error:
        return None
    return parser


def _ini_has_section(text: str, section: str) -> bool:
    parser = _ini(text)
    return parser is not None and parser.has_section(section)


def _ini_settings(text: str, section: str) -> str | None:
    parser = _ini(text)
    if parser is None or not parser.has_section(section):
        return None
    return _settings_in(dict(parser.items(section)))


def _settings_in(table: dict[str, object]) -> str | None:
    """DJANGO_SETTINGS_MODULE (any case) or `--ds` in addopts, from a pytest configuration table."""
    for key, value in table.items():
        if key.upper() == SETTINGS_VARIABLE and isinstance(value, str) and _is_module_name(value.strip()):
            return value.strip()
    addopts = table.get("addopts")
    text = " ".join(str(item) for item in addopts) if isinstance(addopts, list) else str(addopts or "")
    match = DS_OPTION.search(text)
    return match.group(1) if match else None


def _pyproject_pytest_table(text: str) -> dict[str, object] | None:
    """`[tool.pytest.ini_options]` as a dict (tomllib from Python 3.11; a line scan before it)."""
    try:
        import tomllib
    except ImportError:  # Python < 3.11: enough to see the table and a DJANGO_SETTINGS_MODULE line
        return _scan_toml_table(text, "tool.pytest.ini_options")
    try:
        data = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, ValueError):
        return None
    table = data.get("tool", {}).get("pytest", {}).get("ini_options")
    return table if isinstance(table, dict) else None


def _scan_toml_table(text: str, name: str) -> dict[str, object] | None:
    lines = text.splitlines()
    header = f"[{name}]"
    if header not in (line.strip() for line in lines):
        return None
    table: dict[str, object] = {}
    inside = False
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("["):
            inside = stripped == header
        elif inside and "=" in stripped:
            key, _, value = stripped.partition("=")
            table[key.strip()] = value.strip().strip("\"'")
    return table


def pytest_declared(root: Path) -> bool:
    """Whether a dependency file at the root (or in a `requirements/` directory) names pytest or a plugin."""
    paths = [root / name for name in DEPENDENCY_FILES]
    requirements_dir = root / "requirements"
    if requirements_dir.is_dir() and not requirements_dir.is_symlink():
        paths += [item.path for item in walk_files(requirements_dir, limit=50) if item.rel.endswith(".txt")]
    for path in paths:
        text = _read_text(path)
        if text is not None and PYTEST_WORD.search(text):
            return True
    return False
