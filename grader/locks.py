"""Read the versions a candidate locked: pylock.toml, uv.lock, poetry.lock, pdm.lock, Pipfile.lock.

A lock file is only ever *read* here (TOML or JSON), never handed to a tool: the grader takes the name and
version of each package that came from a package index and gives them to the resolver as constraints, so
the environment holds exactly the locked versions while the index (the operator's, never one the lock
names) supplies the files. Packages the lock takes from git, a URL or a local path are left out with a
finding, as everywhere else in the grader.

The first lock file found in `LOCK_FILES` order decides; a second one is noted and ignored. A lock can
hold one name at several versions (one per Python version or platform, a "fork"): the entry whose markers
fit the sandbox (CPython `python` on Linux) is kept, and a name still ambiguous is left to the resolver.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.markers import InvalidMarker, Marker, UndefinedComparison, UndefinedEnvironmentName
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from grader.intake import IntakeError, read_candidate_bytes
from grader.models import Finding, Severity

MAX_LOCK_BYTES = 8 * 1024 * 1024
# Searched in this order; the first one present decides (PEP 751's standard file first).
LOCK_FILES = ("pylock.toml", "uv.lock", "poetry.lock", "pdm.lock", "Pipfile.lock")


@dataclass(frozen=True)
class LockedPackage:
    """One package a lock file pins: its name, exact version and, when the lock says so, its groups."""

    name: str
    version: str
    main: bool | None = None  # True: the default group; False: only dev/test groups; None: the lock does not say


@dataclass(frozen=True)
class LockFile:
    """The packages of one lock file, ready to constrain a resolution."""

    file: str
    packages: tuple[LockedPackage, ...]
    findings: tuple[Finding, ...] = field(default=(), hash=False)

    def constraints(self) -> tuple[str, ...]:
        """`name==version` for every locked package (a constraint adds no package, it only fixes versions)."""
        return tuple(sorted(f"{p.name}=={p.version}" for p in self.packages))

    def main_requirements(self) -> tuple[str, ...]:
        """The default group as requirements, for a project whose lock is its only list of dependencies."""
        return tuple(sorted(f"{p.name}=={p.version}" for p in self.packages if p.main is not False))

    def versions(self) -> dict[str, str]:
        """Canonical name -> locked version."""
        return {p.name: p.version for p in self.packages}


def find_lock(project_dir: Path) -> LockFile | None:
    """The first lock file of the project, read; None when there is none."""
    present = [name for name in LOCK_FILES if (project_dir / name).is_file()] or _pylock_variants(project_dir)
    if not present:
        return None
    chosen = present[0]
    findings = [_note(f"Versions were taken from {chosen}; {' and '.join(present[1:])} "
                      f"{'were' if len(present) > 2 else 'was'} ignored.", chosen)] if len(present) > 1 else []
    lock = read_lock(project_dir, chosen)
    return LockFile(lock.file, lock.packages, (*findings, *lock.findings))


def _pylock_variants(project_dir: Path) -> list[str]:
    """PEP 751 also names locks `pylock.<name>.toml`; with several, the first in name order."""
    return sorted(path.name for path in project_dir.glob("pylock.*.toml") if path.is_file())


def read_lock(project_dir: Path, name: str) -> LockFile:
    """Read one lock file; an unreadable or malformed one is a lock with no packages and a finding."""
    try:
        data = read_candidate_bytes(project_dir / name, MAX_LOCK_BYTES)
    except IntakeError as exc:
        return LockFile(name, (), (_warning(str(exc), name, "deps.lock-unreadable"),))
    if data is None:
        return LockFile(name, ())
    try:
        document = _decode(name, data)
    except ValueError as exc:
        message = f"{name} could not be read ({exc}), so its versions were not used; regenerate it."
        return LockFile(name, (), (_warning(message, name, "deps.lock-invalid"),))
    reader = _READERS[_kind(name)]
    entries = list(reader(document))
    return _assemble(name, entries)


def _kind(name: str) -> str:
    return "pylock.toml" if name.startswith("pylock.") else name


def _decode(name: str, data: bytes) -> Any:
    text = data.decode("utf-8-sig", "replace")
    if name == "Pipfile.lock":
        return json.loads(text)
    return tomllib.loads(text)


# --- one reader per format: each yields (name, version, markers, main, where-from) ---------------------


@dataclass(frozen=True)
class _Entry:
    name: str
    version: str
    marker: str | None = None
    main: bool | None = None
    not_from_index: str | None = None  # why the package does not come from an index, or None


def _pylock(document: Any) -> Iterator[_Entry]:
    """PEP 751: `[[packages]]` with `marker`; groups appear in markers as `'dev' in dependency_groups`."""
    default_groups = _strings(_get(document, "default-groups"))
    for package in _list_of_tables(_get(document, "packages")):
        marker = package.get("marker") if isinstance(package.get("marker"), str) else None
        source = next((key for key in ("vcs", "directory", "archive") if key in package), None)
        main = None if marker is None else _in_default_groups(marker, default_groups)
        yield _Entry(str(package.get("name", "")), str(package.get("version", "")), marker, main,
                     f"it comes from a {source}" if source else None)


def _in_default_groups(marker: str, default_groups: list[str]) -> bool | None:
    """Whether a PEP 751 marker holds with only the default groups and no extras (None: cannot tell)."""
    try:
        environment: dict[str, Any] = {"dependency_groups": frozenset(default_groups), "extras": frozenset()}
        return bool(Marker(marker).evaluate(environment))
    except (InvalidMarker, UndefinedComparison, UndefinedEnvironmentName, TypeError):
        return None


def _uv_lock(document: Any) -> Iterator[_Entry]:
    """uv.lock: `[[package]]` with `source = { registry = ... }`; the project itself is editable/virtual."""
    for package in _list_of_tables(_get(document, "package")):
        source = package.get("source")
        kind = next(iter(source), None) if isinstance(source, dict) else None
        if kind in ("editable", "virtual"):
            continue  # the candidate's own project
        markers = _strings(package.get("resolution-markers"))
        marker = " or ".join(f"({m})" for m in markers) if markers else None
        yield _Entry(str(package.get("name", "")), str(package.get("version", "")), marker, None,
                     None if kind in (None, "registry") else f"it comes from a {kind} source")


def _poetry_lock(document: Any) -> Iterator[_Entry]:
    """poetry.lock: `[[package]]`; `category` (before Poetry 1.5) or `groups` (lock 2.1) say main/dev."""
    for package in _list_of_tables(_get(document, "package")):
        source = package.get("source")
        kind = source.get("type") if isinstance(source, dict) else None
        marker = package.get("markers") if isinstance(package.get("markers"), str) else None
        yield _Entry(str(package.get("name", "")), str(package.get("version", "")), marker, _poetry_main(package),
                     None if kind in (None, "legacy") else f"it comes from a {kind} source")


def _poetry_main(package: Mapping[str, Any]) -> bool | None:
    if isinstance(package.get("category"), str):
        return bool(package["category"] == "main")
    groups = _strings(package.get("groups"))
    return ("main" in groups) if groups else None


def _pdm_lock(document: Any) -> Iterator[_Entry]:
    """pdm.lock: `[[package]]` with `groups` (default, dev, ...) and `marker`."""
    for package in _list_of_tables(_get(document, "package")):
        groups = _strings(package.get("groups"))
        source = next((key for key in ("git", "url", "path") if key in package), None)
        marker = package.get("marker") if isinstance(package.get("marker"), str) else None
        yield _Entry(str(package.get("name", "")), str(package.get("version", "")), marker,
                     ("default" in groups) if groups else None, f"it comes from a {source}" if source else None)


def _pipfile_lock(document: Any) -> Iterator[_Entry]:
    """Pipfile.lock (JSON): `default` and `develop` tables of `name: {version: "==1.2", markers}`."""
    for section, main in (("default", True), ("develop", False)):
        table = document.get(section) if isinstance(document, dict) else None
        if not isinstance(table, dict):
            continue
        for name, spec in table.items():
            if not isinstance(spec, dict):
                continue
            source = next((key for key in ("git", "path", "file", "editable") if key in spec), None)
            version = str(spec.get("version", "")).removeprefix("==")
            marker = spec.get("markers") if isinstance(spec.get("markers"), str) else None
            yield _Entry(str(name), version, marker, main, f"it comes from a {source}" if source else None)


_READERS = {
    "pylock.toml": _pylock,
    "uv.lock": _uv_lock,
    "poetry.lock": _poetry_lock,
    "pdm.lock": _pdm_lock,
    "Pipfile.lock": _pipfile_lock,
}


# --- from entries to one version per name ------------------------------------------------------------------


def _assemble(file: str, entries: Iterable[_Entry]) -> LockFile:
    findings: list[Finding] = []
    by_name: dict[str, list[_Entry]] = {}
    for entry in entries:
        problem = _problem(entry)
        if problem is not None:
            findings.append(_note(f"{entry.name or '?'} {entry.version} in {file} was not used: {problem}.", file))
            continue
        by_name.setdefault(canonicalize_name(entry.name), []).append(entry)
    packages = []
    for name, candidates in sorted(by_name.items()):
        chosen = _one_for_the_sandbox(candidates)
        if chosen is not None:
            main = None if any(c.main is None for c in candidates) else any(c.main for c in candidates)
            packages.append(LockedPackage(name, chosen.version, main))
    if not packages and not findings:
        findings.append(_note(f"{file} locks no package from an index, so versions were resolved instead.", file))
    return LockFile(file, tuple(packages), tuple(findings))


def _problem(entry: _Entry) -> str | None:
    if entry.not_from_index:
        return entry.not_from_index + ", and the grader installs packages only from the index"
    try:
        canonicalize_name(entry.name, validate=True)
        Version(entry.version)
    except (ValueError, InvalidVersion):
        return "its name or version is not valid"
    return None


def _one_for_the_sandbox(candidates: list[_Entry]) -> _Entry | None:
    """One entry per name: the only one, or the only one whose markers fit the sandbox."""
    versions = {c.version for c in candidates}
    if len(versions) == 1:
        return candidates[0]
    fitting = [c for c in candidates if c.marker is None or _fits_sandbox(c.marker)]
    return fitting[0] if len({c.version for c in fitting}) == 1 else None


SANDBOX_MARKERS = {
    "implementation_name": "cpython", "platform_python_implementation": "CPython", "os_name": "posix",
    "sys_platform": "linux", "platform_system": "Linux",
}


def _fits_sandbox(marker: str, python: str = "3.11") -> bool:
    environment = {**SANDBOX_MARKERS, "python_version": python, "python_full_version": f"{python}.0", "extra": ""}
    try:
        return bool(Marker(marker).evaluate(environment))
    except (InvalidMarker, UndefinedComparison, UndefinedEnvironmentName):
        return False


def python_allowed(requires_python: str, python: str) -> bool:
    """Whether a `requires-python` specifier admits `python` (major.minor); unparseable ones do."""
    try:
        return Version(f"{python}.0") in SpecifierSet(requires_python)
    except (InvalidSpecifier, InvalidVersion):
        return True


# --- small helpers --------------------------------------------------------------------------------------------


def _get(document: Any, key: str) -> Any:
    return document.get(key) if isinstance(document, dict) else None


def _list_of_tables(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _strings(value: Any) -> list[str]:
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


def _note(message: str, file: str) -> Finding:
    return Finding(message=message, file=file, severity=Severity.INFO, rule="deps.lock")


def _warning(message: str, file: str, rule: str) -> Finding:
    return Finding(message=message, file=file, severity=Severity.WARNING, rule=rule)
