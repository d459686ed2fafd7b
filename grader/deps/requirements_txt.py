"""requirements.txt files as pip reads them: continuations, comments, `-r` includes inside the project;
every option that changes where pip looks or how it installs is dropped with a finding.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

from grader.deps.requirement import _MAX_FILE_BYTES, _Collected, _ignored, _parse_requirement, _why_not_index
from grader.intake import IntakeError, read_candidate_bytes
from grader.models import Finding, Severity

_MAX_INCLUDE_DEPTH = 5
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
