"""One requirement: parsed from PEP 508 text, refused when it does not come from the package index,
replaced by its wheel twin or given its wheel extra, and merged with the others (`normalize_requirements`).

Names with a leading underscore are private to the `grader.deps` package.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from grader.models import Finding, Severity

WHEELS_ONLY = "the grader installs only packages from the package index"
_MAX_FILE_BYTES = 1024 * 1024
_ARCHIVE_SUFFIXES = (".whl", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar", ".zip")

# Turns the version string of a Poetry or Pipfile entry into a PEP 440 specifier, or None.
_Converter = Callable[[str], str | None]


@dataclass
class _Collected:
    """Requirements gathered from one source, with findings about what was dropped."""

    requirements: list[Requirement]
    findings: list[Finding]


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
