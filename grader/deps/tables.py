"""Dependencies written as TOML: PEP 621 (`[project]`), Poetry (`[tool.poetry]`) and Pipfile tables, with
Poetry's and Pipfile's version constraints turned into PEP 440 specifiers.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from pathlib import Path

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name

from grader.deps.requirement import _MAX_FILE_BYTES, _Collected, _Converter, _ignored, _parse_requirement, _unparseable
from grader.intake import IntakeError, read_candidate_bytes
from grader.models import Finding, Severity


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


def _read_pep508_list(entries: list[str]) -> _Collected:
    result = _Collected([], [])
    for entry in entries:
        requirement, finding = _parse_requirement(entry, "pyproject.toml", None)
        if requirement is not None:
            result.requirements.append(requirement)
        if finding is not None:
            result.findings.append(finding)
    return result
