"""Read the dependencies a submission declares (requirements files, PEP 621, Poetry, Pipfile).

The grader installs only packages from the package index: no URLs, VCS checkouts, local paths or private
indexes. Anything else a candidate declares is dropped with a finding that says why, so the report can
explain a missing package. Exact versions are decided later (`grader.resolve`): a lock file's, a pin's, or
what resolved on the submission's date.

One exception to "dropped": a package PyPI ships only as source but whose own project also publishes the
same module as wheels under another name (psycopg2 -> psycopg2-binary, see `_WHEEL_TWINS`) is replaced by
that twin, with an INFO finding, when the requirement is parsed, so everything downstream (the dependency
set, its cache key, the wheel download) sees the twin.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name

from grader.intake import IntakeError, read_candidate_bytes
from grader.models import Finding, Severity

WHEELS_ONLY = "the grader installs only packages from the package index"
_MAX_FILE_BYTES = 1024 * 1024
_MAX_INCLUDE_DEPTH = 5
_ARCHIVE_SUFFIXES = (".whl", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar", ".zip")

# Turns the version string of a Poetry or Pipfile entry into a PEP 440 specifier, or None.
_Converter = Callable[[str], str | None]


@dataclass(frozen=True)
class DependencySet:
    """The normalized requirements of a submission, where they came from, and what was left out."""

    requirements: tuple[str, ...]
    source: str | None
    findings: tuple[Finding, ...]


# --- reading ----------------------------------------------------------------------------------------


@dataclass
class _Collected:
    """Requirements gathered from one source, with findings about what was dropped."""

    requirements: list[Requirement]
    findings: list[Finding]


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


def normalize_requirements(requirements: Iterable[Requirement]) -> tuple[str, ...]:
    """Canonical names, duplicates merged (specifiers and extras combined), sorted PEP 508 strings.

    Entries for one name under different environment markers stay apart: merging `x<2; python_version<"3.9"`
    with `x>=2; python_version>="3.9"` would make a requirement nothing satisfies.
    """
    merged: dict[tuple[str, str], tuple[set[str], SpecifierSet]] = {}
    for requirement in requirements:
        key = (canonicalize_name(requirement.name), str(requirement.marker) if requirement.marker else "")
        extras, specifier = merged.get(key, (set(), SpecifierSet()))
        merged[key] = (extras | {canonicalize_name(e) for e in requirement.extras}, specifier & requirement.specifier)
    rendered = []
    for (name, marker), (extras, specifier) in merged.items():
        text = name + (f"[{','.join(sorted(extras))}]" if extras else "") + str(specifier)
        rendered.append(f"{text}; {marker}" if marker else text)
    return tuple(sorted(rendered))


def _load_toml(project_dir: Path, name: str, findings: list[Finding]) -> dict[str, object] | None:
    try:
        data = read_candidate_bytes(project_dir / name, _MAX_FILE_BYTES)
    except IntakeError as exc:
        findings.append(Finding(message=f"{exc}", file=name, severity=Severity.WARNING, rule="deps.unreadable"))
        return None
    if data is None:
        return None
    try:
        return tomllib.loads(data.decode("utf-8", "replace"))
    except tomllib.TOMLDecodeError as exc:
        findings.append(
            Finding(
                message=f"{name} is not valid TOML ({exc}), so its dependencies were not read; fix its syntax.",
                file=name,
                severity=Severity.WARNING,
                rule="deps.invalid-toml",
            )
        )
        return None


def _table(data: object, *keys: str) -> object:
    """`data[k1][k2]...`, or None when a level is missing or not a table."""
    for key in keys:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


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


def _ignored(text: str, why: str, file: str | None, line: int | None = None) -> Finding:
    shown = text if len(text) <= 80 else text[:77] + "..."
    return Finding(
        message=f"{shown!r} was ignored: {why}, and {WHEELS_ONLY}.",
        file=file,
        line=line,
        severity=Severity.WARNING,
        rule="deps.ignored",
    )


def _unparseable(text: str, file: str | None, line: int | None = None) -> Finding:
    shown = text if len(text) <= 80 else text[:77] + "..."
    return Finding(
        message=f"{shown!r} is not a valid requirement, so it was ignored; fix it or remove it.",
        file=file,
        line=line,
        severity=Severity.WARNING,
        rule="deps.invalid",
    )


def _why_not_index(text: str) -> str | None:
    """Why a requirement string names something other than a package on the index, or None."""
    stripped = text.strip()
    if re.match(r"^(git|hg|svn|bzr)\+", stripped, re.IGNORECASE):
        return "it is a version-control checkout"
    if re.match(r"^file:", stripped, re.IGNORECASE):
        return "it is a local path"
    if re.match(r"^[a-z][a-z0-9+.-]*://", stripped, re.IGNORECASE):
        return "it is a URL"
    if stripped.startswith((".", "/", "~")):
        return "it is a local path"
    # A bare archive name ("pkg-1.0.tar.gz") would parse as a package name; pip reads it as a file.
    if " " not in stripped and "@" not in stripped and stripped.lower().endswith(_ARCHIVE_SUFFIXES):
        return "it is a local path"
    return None


@dataclass(frozen=True)
class _WheelTwin:
    """A wheel-shipping stand-in for a package PyPI ships only as source, and why it is safe to use."""

    name: str  # the twin's project name on PyPI
    source_only: str  # why the original cannot be installed from wheels (a clause)
    same: str  # why the twin is the same thing for the candidate's code (a clause)
    advice: str  # what the candidate can write instead to make the choice explicit


# Source-only package (canonical name) -> its wheel twin. Add a row only when the twin is the same module
# under the same import name and version numbers, published by the same project; otherwise the package is
# dropped as any other package without a wheel.
_WHEEL_TWINS: dict[str, _WheelTwin] = {
    "psycopg2": _WheelTwin(
        name="psycopg2-binary",
        source_only="PyPI ships psycopg2 for Linux only as source (building it needs libpq and a C compiler)",
        same="psycopg2-binary is the same module under the same import name and versions, published as wheels "
        "by the same project",
        advice="require psycopg2-binary, or psycopg[binary] for psycopg 3, yourself to make this explicit",
    ),
}


# Packages whose pure-Python form needs a system library the sandbox lacks, and the extra of the same
# project that brings it as a wheel: psycopg 3 without `[binary]` or `[c]` looks for libpq at import time.
_WHEEL_EXTRAS: dict[str, tuple[str, frozenset[str], str]] = {
    "psycopg": ("binary", frozenset({"binary", "c"}),
                "psycopg 3 on its own needs the system's libpq, which the sandbox does not have, and its "
                "[binary] extra installs psycopg-binary, libpq included, at the same version"),
}


def _with_wheel_extra(
    requirement: Requirement, text: str, file: str | None, line: int | None
) -> tuple[Requirement, Finding | None]:
    """`requirement` with the extra that brings its native part as a wheel (`_WHEEL_EXTRAS`), if it needs one."""
    entry = _WHEEL_EXTRAS.get(canonicalize_name(requirement.name))
    if entry is None or {canonicalize_name(e) for e in requirement.extras} & entry[1]:
        return requirement, None
    extra, _, why = entry
    replaced = Requirement(str(requirement))
    replaced.extras = {*requirement.extras, extra}
    shown = text if len(text) <= 80 else text[:77] + "..."
    message = (f"The grader installs {str(replaced)!r} for {shown!r}: {why}; require {requirement.name}[{extra}] "
               "yourself to make this explicit.")
    return replaced, Finding(message=message, file=file, line=line, severity=Severity.INFO, rule="deps.substituted")


def _with_wheel_twin(
    requirement: Requirement, text: str, file: str | None, line: int | None
) -> tuple[Requirement, Finding | None]:
    """`requirement` with its name replaced by its wheel twin (specifier, extras and markers kept), if it has one.

    Decision: psycopg2 becomes psycopg2-binary rather than being dropped. It is the same module (`import
    psycopg2`), with the same version numbers, built as wheels by the psycopg project, so the candidate's code
    runs unchanged; the INFO finding says what was substituted and names the explicit alternatives.
    """
    twin = _WHEEL_TWINS.get(canonicalize_name(requirement.name))
    if twin is None:
        return _with_wheel_extra(requirement, text, file, line)
    replaced = Requirement(str(requirement))
    replaced.name = twin.name
    shown = text if len(text) <= 80 else text[:77] + "..."
    message = (
        f"The grader installs {str(replaced)!r} instead of {shown!r}: {twin.source_only}, and {twin.same}; "
        f"{twin.advice}."
    )
    return replaced, Finding(message=message, file=file, line=line, severity=Severity.INFO, rule="deps.substituted")


def _parse_requirement(text: str, file: str | None, line: int | None) -> tuple[Requirement | None, Finding | None]:
    """Parse one PEP 508 string, refusing anything that does not come from the index.

    A source-only package with a wheel twin (`_WHEEL_TWINS`) comes back as the twin, with an INFO finding.
    """
    why = _why_not_index(text)
    if why is not None:
        return None, _ignored(text, why, file, line)
    try:
        requirement = Requirement(text)
    except InvalidRequirement:
        if "/" in text or "\\" in text:  # pip reads such a line as a path to a project directory
            return None, _ignored(text, "it is a local path", file, line)
        return None, _unparseable(text, file, line)
    if requirement.url:
        return None, _ignored(text, _why_not_index(requirement.url) or "it is a URL", file, line)
    return _with_wheel_twin(requirement, text, file, line)


# --- requirements.txt -------------------------------------------------------------------------------

# Options that change where pip looks or how it installs; the grader decides both.
_OPTION_REASONS = {
    "-i": "it sets a package index",
    "--index-url": "it sets a package index",
    "--extra-index-url": "it adds a package index",
    "--no-index": "it turns the package index off",
    "-f": "it adds a place to find packages",
    "--find-links": "it adds a place to find packages",
    "--trusted-host": "it trusts another host",
    "-c": "it is a constraints file",
    "--constraint": "it is a constraints file",
    "-e": "it is an editable install",
    "--editable": "it is an editable install",
}
# Per-requirement options pip allows after a requirement; hashes pin files the grader does not use.
_SILENT_TRAILING_OPTIONS = ("--hash",)


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """Yield (first line number, line) with continuations joined and comments removed, as pip does."""
    buffer: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        if not buffer:
            start = number
        if raw.endswith("\\"):
            buffer.append(raw[:-1])
            continue
        buffer.append(raw)
        line = re.sub(r"(^|\s+)#.*$", "", " ".join(buffer)).strip()
        buffer = []
        if line:
            yield start, line
    tail = re.sub(r"(^|\s+)#.*$", "", " ".join(buffer)).strip()
    if tail:
        yield start, tail


def _read_requirements_file(project_dir: Path, path: Path, depth: int, seen: set[str]) -> _Collected:
    rel = _relative(project_dir, path)
    result = _Collected([], [])
    real = os.path.realpath(path)
    if real in seen:
        return result  # an include cycle: every file is read once
    seen.add(real)
    try:
        data = read_candidate_bytes(path, _MAX_FILE_BYTES)
    except IntakeError as exc:
        result.findings.append(Finding(message=str(exc), file=rel, severity=Severity.WARNING, rule="deps.unreadable"))
        return result
    if data is None:
        result.findings.append(
            Finding(message=f"{rel} does not exist, so it was not read.", file=rel, rule="deps.missing")
        )
        return result
    for number, line in _logical_lines(data.decode("utf-8-sig", "replace")):
        if line.startswith("-"):
            _requirements_option(project_dir, path, rel, number, line, depth, seen, result)
        else:
            _requirements_line(rel, number, line, result)
    return result


def _requirements_line(rel: str, number: int, line: str, result: _Collected) -> None:
    # pip's rule: the requirement ends at the first word that starts with "-" (per-requirement options).
    words = line.split()
    cut = next((i for i, word in enumerate(words) if i > 0 and word.startswith("-")), len(words))
    for option in words[cut:]:
        if option.startswith("-") and not option.startswith(_SILENT_TRAILING_OPTIONS):
            result.findings.append(_ignored(option, "it is a per-requirement pip option", rel, number))
    requirement, finding = _parse_requirement(" ".join(words[:cut]), rel, number)
    if requirement is not None:
        result.requirements.append(requirement)
    if finding is not None:
        result.findings.append(finding)


def _split_option(line: str) -> tuple[str, str]:
    """("-r", "base.txt") from "-r base.txt", "-rbase.txt" or "--requirement=base.txt"."""
    if line.startswith("--"):
        name, _, value = line.partition("=") if "=" in line.split()[0] else line.partition(" ")
        return name.strip(), value.strip()
    return line[:2], line[2:].strip()


def _requirements_option(
    project_dir: Path, path: Path, rel: str, number: int, line: str, depth: int, seen: set[str], result: _Collected
) -> None:
    name, value = _split_option(line)
    if name in ("-r", "--requirement"):
        _include(project_dir, path, rel, number, value, depth, seen, result)
    elif name in _OPTION_REASONS:
        result.findings.append(_ignored(line, _OPTION_REASONS[name], rel, number))
    else:
        result.findings.append(_ignored(line, "it is a pip option", rel, number))


def _include(
    project_dir: Path, path: Path, rel: str, number: int, value: str, depth: int, seen: set[str], result: _Collected
) -> None:
    """Follow `-r other.txt`, relative to the including file, only inside the project."""
    target = Path(os.path.normpath(path.parent / value)) if value else path
    root = os.path.realpath(project_dir)
    real = os.path.realpath(target)
    if not value or _why_not_index(value) in ("it is a URL", "it is a version-control checkout"):
        result.findings.append(_ignored(f"-r {value}", "it does not name a file in the project", rel, number))
    elif not real.startswith(root + os.sep):
        result.findings.append(_ignored(f"-r {value}", "it names a file outside the project", rel, number))
    elif depth + 1 > _MAX_INCLUDE_DEPTH:
        result.findings.append(_ignored(f"-r {value}", "requirement files are nested too deeply", rel, number))
    else:
        included = _read_requirements_file(project_dir, target, depth + 1, seen)
        result.requirements.extend(included.requirements)
        result.findings.extend(included.findings)


def _relative(project_dir: Path, path: Path) -> str:
    try:
        return path.relative_to(project_dir).as_posix()
    except ValueError:
        return path.name


# --- pyproject.toml, Poetry, Pipfile ----------------------------------------------------------------


def _read_pep621(pyproject: dict[str, object] | None) -> _Collected:
    result = _Collected([], [])
    entries = _table(pyproject, "project", "dependencies")
    if not isinstance(entries, list):
        result.findings.append(_unparseable(repr(entries), "pyproject.toml"))
        return result
    for entry in entries:
        if not isinstance(entry, str):
            result.findings.append(_unparseable(repr(entry), "pyproject.toml"))
            continue
        requirement, finding = _parse_requirement(entry, "pyproject.toml", None)
        if requirement is not None:
            result.requirements.append(requirement)
        if finding is not None:
            result.findings.append(finding)
    return result


def _read_poetry(pyproject: dict[str, object] | None) -> _Collected:
    result = _Collected([], [])
    table = _table(pyproject, "tool", "poetry", "dependencies")
    if not isinstance(table, dict):
        result.findings.append(_unparseable(repr(table), "pyproject.toml"))
        return result
    for name, spec in table.items():
        if canonicalize_name(name) == "python":
            continue  # the interpreter's own constraint, not a package
        _add_table_entry(name, spec, "pyproject.toml", _poetry_specifier, result)
    return result


def _read_pipfile(pipfile: dict[str, object] | None) -> _Collected:
    result = _Collected([], [])
    table = _table(pipfile, "packages")
    if not isinstance(table, dict):
        result.findings.append(_unparseable(repr(table), "Pipfile"))
        return result
    for name, spec in table.items():
        _add_table_entry(name, spec, "Pipfile", _pipfile_specifier, result)
    return result


# Keys that say a package comes from somewhere other than the index, with the reason to print.
_NON_INDEX_KEYS = {
    "git": "it is a version-control checkout",
    "hg": "it is a version-control checkout",
    "svn": "it is a version-control checkout",
    "path": "it is a local path",
    "file": "it is a local path or URL",
    "url": "it is a URL",
}
# Pipfile lets a marker be written as its own key: `sys_platform = "== 'linux'"`.
_PIPFILE_MARKER_KEYS = (
    "os_name",
    "sys_platform",
    "platform_machine",
    "platform_system",
    "python_version",
    "python_full_version",
    "implementation_name",
)


def _add_table_entry(name: str, spec: object, file: str, convert: _Converter, result: _Collected) -> None:
    """Turn one `name = spec` entry of a Poetry or Pipfile table into a requirement, or a finding."""
    if isinstance(spec, list):
        result.findings.append(
            _ignored(f"{name} = {spec!r}", "several alternative constraints cannot be expressed", file)
        )
        return
    if not isinstance(spec, (str, dict)):
        result.findings.append(_unparseable(f"{name} = {spec!r}", file))
        return
    table: Mapping[str, object] = spec if isinstance(spec, dict) else {"version": spec}
    source_key = next((key for key in _NON_INDEX_KEYS if key in table), None)
    if source_key is not None:
        result.findings.append(
            _ignored(f"{name} ({source_key} = {table[source_key]!r})", _NON_INDEX_KEYS[source_key], file)
        )
        return
    if table.get("optional") is True:
        return  # installed only with one of the project's extras, as `poetry install` does
    text = _entry_text(name, table, file, convert, result)
    if text is None:
        return
    requirement, finding = _parse_requirement(text, file, None)
    if requirement is not None:
        result.requirements.append(requirement)
    if finding is not None:
        result.findings.append(finding)


def _entry_text(
    name: str, table: Mapping[str, object], file: str, convert: _Converter, result: _Collected
) -> str | None:
    """Render a table entry as a PEP 508 string, or None (with a finding) when it cannot be."""
    version = table.get("version", "*")
    specifier = convert(version) if isinstance(version, str) else None
    if specifier is None:
        result.findings.append(_unparseable(f"{name} = {version!r}", file))
        return None
    extras = table.get("extras", [])
    if not isinstance(extras, list) or not all(isinstance(extra, str) for extra in extras):
        result.findings.append(_unparseable(f"{name} extras = {extras!r}", file))
        return None
    markers = [str(table["markers"])] if isinstance(table.get("markers"), str) else []
    if file == "Pipfile":
        markers += [f"{key} {table[key]}" for key in _PIPFILE_MARKER_KEYS if isinstance(table.get(key), str)]
    text = name + (f"[{','.join(extras)}]" if extras else "") + specifier
    if markers:
        text += "; " + " and ".join(f"({marker})" for marker in markers)
    return text


def _pipfile_specifier(version: str) -> str | None:
    """Pipfile versions are PEP 440 specifiers already, or "*" for any version."""
    version = version.strip()
    if version in ("", "*"):
        return ""
    return _valid_specifier(version)


def _poetry_specifier(version: str) -> str | None:
    """Translate a Poetry constraint (`^1.2`, `~1.2`, `1.2`, `>=1,<2`, `*`) into a PEP 440 specifier."""
    version = version.strip()
    if version in ("", "*"):
        return ""
    if "||" in version or "|" in version:
        return None  # an either-or constraint has no PEP 440 spelling
    parts = []
    for part in version.split(","):
        converted = _poetry_part(part.strip())
        if converted is None:
            return None
        parts.append(converted)
    return _valid_specifier(",".join(parts))


def _poetry_part(part: str) -> str | None:
    if part.startswith("^"):
        return _bounded(part[1:].strip(), caret=True)
    if part.startswith("~") and not part.startswith("~="):
        return _bounded(part[1:].strip(), caret=False)
    if re.match(r"^(===|==|!=|~=|<=|>=|<|>)", part):
        return re.sub(r"\s+", "", part)
    if re.match(r"^\d", part):
        return f"=={part}"
    return None


def _bounded(version: str, caret: bool) -> str | None:
    """`^1.2.3` -> `>=1.2.3,<2.0.0`; `^0.2.3` -> `>=0.2.3,<0.3.0`; `~1.2` -> `>=1.2,<1.3`."""
    match = re.match(r"^(\d+(?:\.\d+)*)", version)
    if match is None:
        return None
    numbers = [int(n) for n in match.group(1).split(".")]
    if caret:
        # The first non-zero component may not change; with only zeros, the last one given.
        bump = next((i for i, n in enumerate(numbers) if n != 0), len(numbers) - 1)
    else:
        bump = 1 if len(numbers) > 1 else 0
    upper = [*numbers[:bump], numbers[bump] + 1] + [0] * (len(numbers) - bump - 1)
    return f">={version},<{'.'.join(str(n) for n in upper)}"


def _valid_specifier(text: str) -> str | None:
    try:
        SpecifierSet(text)
    except InvalidSpecifier:
        return None
    return text


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


def _read_pep508_list(entries: list[str]) -> _Collected:
    result = _Collected([], [])
    for entry in entries:
        requirement, finding = _parse_requirement(entry, "pyproject.toml", None)
        if requirement is not None:
            result.requirements.append(requirement)
        if finding is not None:
            result.findings.append(finding)
    return result
