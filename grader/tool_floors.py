"""The grader's test tools in a candidate's environment: which releases can run on the sandbox's Python, and
what they install (so their versions are free of the submission's date).

Old releases of pytest, py and coverage install on a newer Python without complaint and then fail before any
test runs; `TOOL_FLOORS` names the lowest release of each that runs, and the resolver raises requirements and
locked versions below it (`grader.resolve`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, distribution

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from grader.locks import SANDBOX_MARKERS

# Lowest versions of the grader's test tools its candidate-tests check runs with, when its exact pins do not fit.
LOOSE_TOOL_FLOORS = {"pytest": "7", "coverage": "6.3"}


@dataclass(frozen=True)
class ToolFloor:
    """The lowest release of a test tool the candidate-tests check can run with, from a Python on."""

    version: str
    python: tuple[int, int]  # the floor applies to this Python and newer
    why: str  # what goes wrong below it (a clause)


# Older releases install without complaint and then fail before any test runs.
TOOL_FLOORS = {
    "pytest": ToolFloor("6.2.4", (3, 10), "older releases fail to rewrite assertions there "
                        "(TypeError: required field \"lineno\" missing from alias)"),
    "py": ToolFloor("1.11.0", (3, 11), "older releases fail to import there (AttributeError: __spec__)"),
    "coverage": ToolFloor("6.3", (3, 0), "the grader runs coverage with options older releases do not have "
                          "(--data-file)"),
}


def key_of(name: str) -> str:
    """The canonical form of a project name, as a plain string."""
    return str(canonicalize_name(name))


def name_of(requirement: str) -> str:
    try:
        return Requirement(requirement).name
    except InvalidRequirement:
        return requirement.split(";", 1)[0].strip()


def specifier_of(requirement: str) -> SpecifierSet:
    try:
        return Requirement(requirement).specifier
    except InvalidRequirement:
        return SpecifierSet()


def exact_version(requirement: str) -> str | None:
    """The version of a `name==X` (or `===X`) requirement without wildcards; None otherwise."""
    specifiers = list(specifier_of(requirement))
    if len(specifiers) == 1 and specifiers[0].operator in ("==", "===") and "*" not in specifiers[0].version:
        return specifiers[0].version
    return None


def runnable_floors(python: str) -> dict[str, ToolFloor]:
    """The TOOL_FLOORS that apply to `python` ("3.11"), by canonical name."""
    try:
        major, minor = (int(part) for part in python.split(".")[:2])
    except ValueError:
        return {}
    return {name: floor for name, floor in TOOL_FLOORS.items() if (major, minor) >= floor.python}


def raise_to_floor(requirement: str, floors: dict[str, ToolFloor]) -> tuple[str, bool]:
    """`requirement` with bounds that admit no release at or above its floor (`^5.2`, `==5.3`) replaced by the
    floor's major series, the nearest to what was declared, and whether that happened. Extras and markers are
    kept. Bounds that admit a release that runs are left as they are: the floor constraint every resolution
    carries (`_floor_constraints`) narrows them (`^6.0.1` gives 6.2.x)."""
    try:
        parsed = Requirement(requirement)
    except InvalidRequirement:
        return requirement, False
    floor = floors.get(key_of(parsed.name))
    if floor is None or _admits_at_or_above(parsed.specifier, floor.version):
        return requirement, False
    raised = Requirement(requirement)
    raised.specifier = SpecifierSet(f">={floor.version},<{Version(floor.version).major + 1}")
    return str(raised), True


def below(version: str, floor: str) -> bool:
    try:
        return Version(version) < Version(floor)
    except InvalidVersion:
        return False


def _admits_at_or_above(specifier: SpecifierSet, floor: str) -> bool:
    """Whether the bounds let in the floor or a later release. Tried: the floor, the bounds' own versions
    above it, and a far-off version (for bounds open upwards such as `>X` or `!=X`)."""
    candidates = [floor, *(spec.version.removesuffix(".*") for spec in specifier), "9999"]
    return any(_valid(version) and not below(version, floor) and specifier.contains(version, prereleases=True)
               for version in candidates)


def _valid(version: str) -> bool:
    try:
        Version(version)
    except InvalidVersion:
        return False
    return True


def tool_closure(tools: Iterable[str]) -> set[str]:
    """The grader's test tools and what they install, read from this grader's own environment."""
    names: set[str] = set()
    pending = [key_of(name_of(tool)) for tool in tools]
    environment = {**SANDBOX_MARKERS, "python_version": "3.11", "python_full_version": "3.11.0", "extra": ""}
    while pending:
        name = pending.pop()
        if name in names:
            continue
        names.add(name)
        try:
            requires = distribution(name).requires or []
        except PackageNotFoundError:
            continue
        for text in requires:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate(environment):
                pending.append(key_of(requirement.name))
    return names
