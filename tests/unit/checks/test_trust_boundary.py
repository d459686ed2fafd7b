"""checks/ is the sandbox side and nothing else: every module imports in an interpreter where `grader` cannot
be imported, none names `grader` (not even for type checking), and the host imports from checks/ only its
data formats (`checks.formats`)."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO_ROOT

CHECKS_DIR = REPO_ROOT / "checks"
GRADER_DIR = REPO_ROOT / "grader"
HOST_MAY_IMPORT = {"checks", "checks.formats"}  # `checks` itself only to find its directory (grader.paths)

# Runs with -I (no PYTHONPATH, no working directory on sys.path): only the copy of checks/ and the
# interpreter's installed packages (pytest, httpx, the tools) are there, and `grader` is blocked even if an
# editable install would provide it.
PROBE = """
import importlib, json, sys
library = sys.argv[1]
sys.path.insert(0, library)
sys.modules["grader"] = None
outcome = {}
for name in sys.argv[2:]:
    try:
        module = importlib.import_module(name)
    except BaseException as exc:
        outcome[name] = f"{type(exc).__name__}: {exc}"
    else:
        where = str(getattr(module, "__file__", ""))
        outcome[name] = "ok" if where.startswith(library) else f"imported from {where}, not from the copy"
print(json.dumps(outcome))
"""


def sandbox_modules(directory: Path = CHECKS_DIR) -> list[str]:
    """`checks` and every `checks.<module>`."""
    return ["checks", *sorted(f"checks.{path.stem}" for path in directory.glob("*.py") if path.stem != "__init__")]


def import_without_grader(tmp_path: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Import every module of a copy of checks/ (plus `extra` files added to it) where grader is blocked."""
    library = tmp_path / "lib"
    shutil.copytree(CHECKS_DIR, library / "checks", ignore=shutil.ignore_patterns("__pycache__"))
    for name, text in (extra or {}).items():
        (library / "checks" / name).write_text(text)
    proc = subprocess.run(
        [sys.executable, "-I", "-c", PROBE, str(library), *sandbox_modules(library / "checks")],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    outcome: dict[str, str] = json.loads(proc.stdout)
    return outcome


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at any depth (TYPE_CHECKING blocks and function bodies included)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            if "." not in node.module:  # `from checks import lint` imports checks.lint
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_every_sandbox_module_imports_where_grader_is_not_importable(tmp_path: Path) -> None:
    outcome = import_without_grader(tmp_path)
    assert set(outcome) == set(sandbox_modules())
    assert {name: result for name, result in outcome.items() if result != "ok"} == {}


def test_the_probe_sees_a_module_that_needs_grader(tmp_path: Path) -> None:
    """The import test above can fail: a module importing grader is reported, not skipped."""
    outcome = import_without_grader(tmp_path, {"leaky.py": "from grader.models import CheckResult\n"})
    assert outcome["checks.leaky"].startswith("ModuleNotFoundError")
    assert outcome["checks.formats"] == "ok"


def test_no_sandbox_module_names_grader() -> None:
    """Not even under TYPE_CHECKING: the sandbox side is readable without the host's code."""
    leaks = {path.name: sorted(name for name in imported_modules(path) if name.split(".")[0] == "grader")
             for path in sorted(CHECKS_DIR.glob("*.py"))}
    assert {name: found for name, found in leaks.items() if found} == {}


def test_the_host_imports_only_the_data_formats_of_checks() -> None:
    """Parsing of check output, plans and specs live in grader/; from checks/ the host reads only formats."""
    found = {str(path.relative_to(REPO_ROOT)): sorted(name for name in imported_modules(path)
                                                      if name.split(".")[0] == "checks" and name not in HOST_MAY_IMPORT)
             for path in sorted(GRADER_DIR.rglob("*.py"))}
    assert {path: names for path, names in found.items() if names} == {}
