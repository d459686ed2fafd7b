"""What a downloaded wheel set still lacks for the container's Python, read from the wheels' own metadata.

`pip download --python-version 3.11` picks wheels for 3.11 but evaluates environment markers against the
host's interpreter. The sandbox's Python may be an older patch release (Debian 12 ships 3.11.2), and some
packages need a backport only there: redis needs `async-timeout; python_full_version < "3.11.3"`. Downloaded
on a 3.11.7 host, that wheel is missing and the offline install fails. So the grader reads every wheel's
`Requires-Dist`, evaluates the markers for the oldest patch release of the target Python on Linux, and
downloads what is missing. An extra wheel in the set is harmless: pip installs only what it resolves.
"""

from __future__ import annotations

import platform
import zipfile
from email.parser import HeaderParser
from pathlib import Path

from packaging.markers import InvalidMarker, UndefinedComparison, UndefinedEnvironmentName
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name


def container_environment(python: str, machine: str | None = None) -> dict[str, str]:
    """The marker environment of the oldest patch release of `python` (major.minor) on Linux, CPython."""
    return {
        "implementation_name": "cpython",
        "implementation_version": f"{python}.0",
        "os_name": "posix",
        "platform_machine": machine or platform.machine(),
        "platform_python_implementation": "CPython",
        "platform_release": "",
        "platform_system": "Linux",
        "platform_version": "",
        "python_full_version": f"{python}.0",
        "python_version": python,
        "sys_platform": "linux",
        "extra": "",
    }


def wheel_name(path: Path) -> str:
    """The canonical project name of a wheel file (`async_timeout-4.0.3-py3-none-any.whl` -> `async-timeout`)."""
    return canonicalize_name(path.name.split("-", 1)[0])


def wheel_requirements(path: Path) -> list[Requirement]:
    """The `Requires-Dist` entries of one wheel; an unreadable wheel has none (pip will say more later)."""
    try:
        with zipfile.ZipFile(path) as archive:
            metadata = next((n for n in archive.namelist() if n.endswith(".dist-info/METADATA")), None)
            if metadata is None:
                return []
            text = archive.read(metadata).decode("utf-8", errors="replace")
    except (OSError, zipfile.BadZipFile):
        return []
    requirements = []
    for entry in HeaderParser().parsestr(text).get_all("Requires-Dist") or []:
        try:
            requirements.append(Requirement(entry))
        except InvalidRequirement:
            continue
    return requirements


def missing_requirements(wheels_dir: Path, python: str) -> list[str]:
    """Requirements of the wheels in `wheels_dir` that the target Python needs and no wheel there provides.

    Each is returned without its marker (it applies on the target), sorted, one per project.
    """
    wheels = sorted(wheels_dir.glob("*.whl"))
    present = {wheel_name(wheel) for wheel in wheels}
    environment = container_environment(python)
    missing: dict[str, str] = {}
    for wheel in wheels:
        for requirement in wheel_requirements(wheel):
            name = canonicalize_name(requirement.name)
            if name in present or name in missing or not _applies(requirement, environment):
                continue
            requirement.marker = None
            missing[name] = str(requirement)
    return [missing[name] for name in sorted(missing)]


def _applies(requirement: Requirement, environment: dict[str, str]) -> bool:
    if requirement.marker is None:
        return True
    try:
        return requirement.marker.evaluate(environment)
    except (InvalidMarker, UndefinedComparison, UndefinedEnvironmentName):
        return False
