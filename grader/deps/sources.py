"""The two entry points: the dependencies of the app (the first source that exists) and of the candidate's
own tests (every dev/test source), each a normalized `DependencySet` with its findings.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from grader.deps.requirement import _Collected, normalize_requirements
from grader.deps.requirements_txt import _read_requirements_file
from grader.deps.tables import (
    _add_table_entry,
    _load_toml,
    _pipfile_specifier,
    _poetry_specifier,
    _read_pep508_list,
    _read_pep621,
    _read_pipfile,
    _read_poetry,
    _table,
)
from grader.models import Finding, Severity


@dataclass(frozen=True)
class DependencySet:
    """The normalized requirements of a submission, where they came from, and what was left out."""

    requirements: tuple[str, ...]
    source: str | None
    findings: tuple[Finding, ...]


def read_dependencies(project_dir: Path) -> DependencySet:
    """Read the first dependency source that exists: requirements.txt, PEP 621, Poetry, then Pipfile."""
    findings: list[Finding] = []
    pyproject = _load_toml(project_dir, "pyproject.toml", findings)
    pipfile = _load_toml(project_dir, "Pipfile", findings)
    available = _available_sources(project_dir, pyproject, pipfile)
    if not available:
        findings.append(
            Finding(
                message="No dependencies were found: add a requirements.txt or list them in pyproject.toml.",
                severity=Severity.WARNING,
                rule="deps.none",
            )
        )
        return DependencySet((), None, tuple(findings))
    source = available[0]
    if len(available) > 1:
        findings.append(
            Finding(
                message=f"Dependencies were read from {source}; {' and '.join(available[1:])} were ignored.",
                file=source.split(" ")[0],
                severity=Severity.INFO,
                rule="deps.source",
            )
        )
    if source == "requirements.txt":
        collected = _read_requirements_file(project_dir, project_dir / "requirements.txt", 0, set())
    elif source == "pyproject.toml [project]":
        collected = _read_pep621(pyproject)
    elif source == "pyproject.toml [tool.poetry]":
        collected = _read_poetry(pyproject)
    else:
        collected = _read_pipfile(pipfile)
    findings.extend(collected.findings)
    return DependencySet(normalize_requirements(collected.requirements), source, tuple(findings))


def _available_sources(
    project_dir: Path, pyproject: dict[str, object] | None, pipfile: dict[str, object] | None
) -> list[str]:
    available = []
    if os.path.lexists(project_dir / "requirements.txt"):
        available.append("requirements.txt")
    if _table(pyproject, "project", "dependencies") is not None:
        available.append("pyproject.toml [project]")
    if _table(pyproject, "tool", "poetry", "dependencies") is not None:
        available.append("pyproject.toml [tool.poetry]")
    if _table(pipfile, "packages") is not None:
        available.append("Pipfile")
    return available


# --- test dependencies: what the candidate's own tests need -------------------------------------------

_TEST_REQUIREMENT_FILES = (
    "requirements-dev.txt", "requirements-test.txt", "requirements_dev.txt", "requirements_test.txt",
    "dev-requirements.txt", "test-requirements.txt", "requirements/dev.txt", "requirements/test.txt",
)
_TEST_GROUPS = ("dev", "test", "tests", "testing")


def read_test_dependencies(project_dir: Path) -> DependencySet:
    """Requirements the candidate declares for its own tests (dev/test files, extras, groups, dev-packages).

    Every such source is read, since projects often split them; they only feed the candidate-tests check.
    """
    findings: list[Finding] = []
    pyproject = _load_toml(project_dir, "pyproject.toml", findings)
    pipfile = _load_toml(project_dir, "Pipfile", findings)
    collected = _Collected([], [])
    sources: list[str] = []
    for name in _TEST_REQUIREMENT_FILES:
        if (project_dir / name).is_file():
            _merge(collected, _read_requirements_file(project_dir, project_dir / name, 0, set()))
            sources.append(name)
    list_tables: tuple[tuple[str, ...], ...] = (("project", "optional-dependencies"), ("dependency-groups",))
    for path in list_tables:
        for group in _TEST_GROUPS:
            entries = _table(pyproject, *path, group)
            if isinstance(entries, list):
                _merge(collected, _read_pep508_list([e for e in entries if isinstance(e, str)]))
                sources.append(f"pyproject.toml {'.'.join(path)}.{group}")
    uv_dev = _table(pyproject, "tool", "uv", "dev-dependencies")
    if isinstance(uv_dev, list):
        _merge(collected, _read_pep508_list([e for e in uv_dev if isinstance(e, str)]))
        sources.append("pyproject.toml tool.uv.dev-dependencies")
    poetry_tables = [("tool", "poetry", "dev-dependencies"),
                     *(("tool", "poetry", "group", g, "dependencies") for g in _TEST_GROUPS)]
    for path in poetry_tables:
        table = _table(pyproject, *path)
        if isinstance(table, dict):
            for name, spec in table.items():
                _add_table_entry(name, spec, "pyproject.toml", _poetry_specifier, collected)
            sources.append(f"pyproject.toml {'.'.join(path)}")
    dev_packages = _table(pipfile, "dev-packages")
    if isinstance(dev_packages, dict):
        for name, spec in dev_packages.items():
            _add_table_entry(name, spec, "Pipfile", _pipfile_specifier, collected)
        sources.append("Pipfile [dev-packages]")
    findings.extend(collected.findings)
    source = ", ".join(sources) or None
    return DependencySet(normalize_requirements(collected.requirements), source, tuple(findings))


def _merge(into: _Collected, other: _Collected) -> None:
    into.requirements.extend(other.requirements)
    into.findings.extend(other.findings)
