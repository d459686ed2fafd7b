"""Decide the exact versions a submission is graded with: what its author locked or pinned, else what
resolved on the day the work was done.

Order of authority, per package: a lock file's version (`grader.locks`), an exact `==` pin in the
candidate's requirements, then a resolution bounded by the submission's date (`as_of`: uv's
`--exclude-newer`), so a repository graded months later installs what worked when it was written.

The resolution runs in two phases: the app's own (main) requirements first, then the candidate's test
requirements and the grader's test tools on top, with the main versions held fixed, so a test-only
package can never move what the app runs with, and a broken test set never costs the app its packages.

When uv cannot resolve, its error text is searched only for the *names* it involves; each is then looked
up on the index (`grader.index`), whose JSON says what is wrong in structured form:
- no such project: the requirement is dropped, with a finding naming it;
- no release for the sandbox's Python, or none matching the specifier: dropped, with a finding;
- a release with only a source archive: the archive is built into a wheel in a throwaway container (the
  `Builder`), and the resolution is tried again with that wheel available; a failed build is a finding
  with the end of the build log;
- anything else is a conflict between requirements, reported with uv's explanation.

Test tools that install but cannot run here (`TOOL_FLOORS`: pytest before 6.2.4 on Python 3.10+, py before
1.11 on 3.11+, coverage before 6.3 anywhere) are raised before resolving: a lock's pin below the floor is set
free, a requirement that admits nothing above it is replaced by the floor's series, and every resolution is
constrained to the floors, so the candidate's tests run with the nearest release that works.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Literal, Protocol
from urllib.parse import unquote, urlparse

from packaging.specifiers import SpecifierSet

from grader import cache
from grader.index import IndexClient, Release, fetch, supported_tags, usable_releases, wheel_fits
from grader.locks import LockFile
from grader.models import Finding, Severity
from grader.tool_floors import (
    LOOSE_TOOL_FLOORS,
    ToolFloor,
    below,
    exact_version,
    key_of,
    name_of,
    raise_to_floor,
    runnable_floors,
    specifier_of,
    tool_closure,
)
from grader.uv import CompileRequest, Pin, Target, compile_requirements, index_urls, names_in_message, uv_version

MAX_ROUNDS = 12
MAX_BUILDS_PER_PACKAGE = 2


Origin = Literal["lock", "pin", "resolved", "tool"]
Log = Callable[[str], None]


@dataclass(frozen=True)
class BuildOutcome:
    """A wheel built from a source archive, or why there is none (the end of the build log)."""

    wheel: Path | None
    log_tail: str = ""


class Builder(Protocol):
    """Builds one source archive into a wheel, isolated from the host (see grader.sandbox.builds)."""

    @property
    def identity(self) -> str:
        """Changes when the build environment changes, so a failed build is tried again then."""
        ...

    def build_wheel(self, sdist: Path, build_wheels: Sequence[Path], out_dir: Path) -> BuildOutcome:
        """Build `sdist` with only `build_wheels` available to its build backend; the wheel lands in out_dir."""
        ...


@dataclass(frozen=True)
class ResolveRequest:
    """What the candidate declared and locked, and what the resolution is for."""

    main: tuple[str, ...]
    test: tuple[str, ...]
    tools: tuple[str, ...]  # the grader's test tools, added where the candidate does not require them
    lock: LockFile | None
    target: Target
    as_of: datetime | None

    def key(self) -> str:
        """A hash of everything the resolution depends on (the wheel set's cache key)."""
        payload = {
            "main": sorted(self.main), "test": sorted(self.test), "tools": sorted(self.tools),
            "lock": self.lock.constraints() if self.lock else None, "target": self.target.key,
            "as_of": self.as_of.isoformat() if self.as_of else None,
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class Resolved:
    """One package of the environment: version, where the version came from, the wheel to install."""

    name: str
    version: str
    origin: Origin
    group: Literal["main", "test"]
    built: bool
    url: str
    sha256: str | None
    filename: str


@dataclass(frozen=True)
class Resolution:
    """The environment's packages, how the versions were decided, and what could not be installed."""

    packages: tuple[Resolved, ...]
    findings: tuple[Finding, ...]
    lock_file: str | None  # the lock whose versions were used (None: none, or it did not fit)
    resolver: str


@dataclass
class _Conflict:
    message: str


@dataclass
class _State:
    """What one resolution learned along the way."""

    findings: list[Finding] = field(default_factory=list)
    dropped: set[str] = field(default_factory=set)
    built: dict[str, str] = field(default_factory=dict)  # name -> version built from source
    build_attempts: dict[str, int] = field(default_factory=dict)
    unlocked: set[str] = field(default_factory=set)  # locked names set free: their locked version cannot install
    unbuildable: set[str] = field(default_factory=set)  # names whose release could not be built (or not here)


class Resolver:
    """One resolution: phases, repairs and builds (see the module docstring)."""

    def __init__(self, request: ResolveRequest, builder: Builder | None, log: Log) -> None:
        self.request = request
        self.builder = builder
        self.log = log
        self.state = _State()
        self.built_dir = cache.built_path(f"links-{request.key()[:24]}")
        self._index: IndexClient | None = None
        machine = request.target.platform.split("-", 1)[0] if request.target.platform else None
        self.tags = supported_tags(request.target.python, machine)

    @property
    def index(self) -> IndexClient:
        if self._index is None:
            self._index = IndexClient(index_urls())
        return self._index

    # --- phases ---------------------------------------------------------------------------------------

    def run(self) -> Resolution:
        """Resolve the main requirements, then the test requirements on top."""
        request = self.request
        lock = request.lock if request.lock and request.lock.packages else None
        main_requirements = self._runnable(request.main or (lock.main_requirements() if lock else ()), lock)
        self.request = request = replace(request, test=self._runnable(request.test, lock))
        main, lock_used = self._main_phase(main_requirements, lock)
        if not main and main_requirements:  # they conflict: the tests get the tools, the app nothing
            main_requirements = ()
        test = self._test_phase(main_requirements, main, lock if lock_used else None)
        packages = self._records(main, test, main_requirements, lock if lock_used else None)
        return Resolution(tuple(packages), tuple(self.state.findings), lock.file if lock and lock_used else None,
                          uv_version())

    def _main_phase(self, requirements: tuple[str, ...], lock: LockFile | None) -> tuple[tuple[Pin, ...], bool]:
        constraints = lock.constraints() if lock else ()
        outcome = self._compile(requirements, constraints)
        if isinstance(outcome, _Conflict) and lock is not None:
            self._note(f"{lock.file} does not fit the declared dependencies ({_summary(outcome.message)}), so "
                       "versions were resolved without it; regenerate the lock file.", "deps.lock-mismatch",
                       Severity.WARNING, lock.file)
            outcome = self._compile(requirements, ())
            lock = None
        if isinstance(outcome, _Conflict):
            self._note(f"The declared dependencies conflict, so none of them was installed: "
                       f"{_summary(outcome.message)}; fix the version constraints.", "deps.conflict", Severity.ERROR)
            return (), False
        return outcome, lock is not None

    def _test_phase(self, main_requirements: tuple[str, ...], main: tuple[Pin, ...],
                    lock: LockFile | None) -> tuple[Pin, ...]:
        held = tuple(f"{pin.name}=={pin.version}" for pin in main)
        wanted = {key_of(name_of(r)) for r in (*main_requirements, *self.request.test)}
        # A tool the candidate locked (pytest, coverage in their dev group) runs at their version, as theirs.
        locked = set(lock.versions()) if lock else set()
        tools = tuple(tool for tool in self.request.tools if key_of(name_of(tool)) not in wanted | locked)
        protected = frozenset(key_of(name_of(r)) for r in main_requirements)
        # The grader's exact tool versions can clash with what the app holds (pytest 9 needs packaging>=24,
        # a 2023 app holds packaging 23.1): then any version of the tools that fits the app will do.
        loose = tuple(dict.fromkeys(f"{name_of(tool)}>={LOOSE_TOOL_FLOORS.get(key_of(name_of(tool)), '0')}"
                                    for tool in tools))
        with_tests = (*main_requirements, *self.request.test)
        attempts = [
            (with_tests, tools, (*held, *(lock.constraints() if lock else ()))),
            (with_tests, tools, held),
            (with_tests, loose, held),
            (main_requirements, tools, held),
            (main_requirements, loose, held),
        ]
        seen: set[tuple[tuple[str, ...], ...]] = set()
        for requirements, tool_set, constraints in attempts:
            if (requirements, tool_set, constraints) in seen:  # e.g. no lock, or no test requirements
                continue
            seen.add((requirements, tool_set, constraints))
            outcome = self._compile((*requirements, *tool_set), constraints, protected)
            if not isinstance(outcome, _Conflict):
                if requirements is main_requirements and self.request.test:
                    self._note("The test dependencies could not be installed with the app's, so the candidate's "
                               "tests run without them.", "deps.test-conflict", Severity.WARNING)
                if tool_set is loose and tools:
                    self._note("The grader's own pytest and coverage versions do not fit the app's dependencies, "
                               "so versions of them that do were installed.", "deps.tools-adjusted")
                return outcome
            last = outcome
        self._note(f"pytest and coverage could not be installed beside the app's dependencies "
                   f"({_summary(last.message)}), so the candidate's tests cannot run.", "deps.tools-conflict",
                   Severity.WARNING)
        return main

    # --- test tools that run here --------------------------------------------------------------------

    def _runnable(self, requirements: tuple[str, ...], lock: LockFile | None) -> tuple[str, ...]:
        """`requirements` with test tools raised to releases that run on the target Python (TOOL_FLOORS), and
        the lock's pins below a floor set free; each change is a finding."""
        python = self.request.target.python
        floors = runnable_floors(python)
        if lock is not None:
            self._unlock_below_floors(lock, floors)
        raised = []
        for requirement in requirements:
            new, replaced = raise_to_floor(requirement, floors)
            if replaced:
                floor = floors[key_of(name_of(requirement))]
                self._note(f"The grader installs {new!r} for {requirement!r}: on Python {python} {floor.why}; "
                           f"require {name_of(requirement)}>={floor.version} yourself to make this explicit.",
                           "deps.substituted")
            raised.append(new)
        return tuple(raised)

    def _unlock_below_floors(self, lock: LockFile, floors: dict[str, ToolFloor]) -> None:
        for name, locked in lock.versions().items():
            floor = floors.get(key_of(name))
            if floor is None or not below(locked, floor.version) or key_of(name) in self.state.unlocked:
                continue
            self.state.unlocked.add(key_of(name))
            self._note(f"{name} {locked}, as {lock.file} locks it, does not run on Python "
                       f"{self.request.target.python}: {floor.why}, so {name}>={floor.version} was resolved "
                       "instead; regenerate the lock file for this Python.", "deps.lock-relaxed", Severity.WARNING,
                       lock.file)

    def _floor_constraints(self) -> tuple[str, ...]:
        """Every resolution stays at or above the floors, for tools that come in as dependencies too."""
        return tuple(f"{name}>={floor.version}"
                     for name, floor in runnable_floors(self.request.target.python).items()
                     if name not in self.state.dropped)

    # --- one resolution, repaired round by round ------------------------------------------------------

    def _compile(self, requirements: Sequence[str], constraints: Sequence[str],
                 protected: frozenset[str] = frozenset()) -> tuple[Pin, ...] | _Conflict:
        """Resolve, repairing round by round; `protected` names (the app's, in the test phase) are never dropped.

        Each round drops or builds one package, so the rounds are bounded by the number of requirements
        (an old pinned requirements.txt can need a dozen source builds), with MAX_ROUNDS as the floor."""
        message = ""
        for _ in range(max(MAX_ROUNDS, MAX_BUILDS_PER_PACKAGE * len(requirements) + 2)):
            kept = tuple(r for r in requirements if key_of(name_of(r)) not in self.state.dropped)
            constraints = tuple(c for c in constraints if key_of(name_of(c)) not in self.state.unlocked)
            bounded = (*constraints, *self._floor_constraints())
            outcome = compile_requirements(CompileRequest(
                requirements=kept, target=self.request.target, constraints=bounded,
                as_of=self.request.as_of, exempt=self._exempt(kept, bounded),
                find_links=(self.built_dir,) if self.built_dir.is_dir() else (),
            ))
            if outcome.pins is not None:
                return outcome.pins
            message = outcome.message
            if not self._repair(message, kept, constraints, protected):
                break
        return _Conflict(message)

    def _exempt(self, requirements: Sequence[str], constraints: Sequence[str]) -> tuple[str, ...]:
        """Names whose versions are fixed already (locked, pinned) or are the grader's: no date cutoff."""
        names = {key_of(name_of(c)) for c in constraints}
        names |= {key_of(name_of(r)) for r in requirements if exact_version(r)}
        names |= tool_closure(self.request.tools)
        return tuple(sorted(names))

    def _repair(self, message: str, requirements: Sequence[str], constraints: Sequence[str],
                protected: frozenset[str] = frozenset()) -> bool:
        """Change something that makes the next round differ (drop or build), or say nothing can."""
        wheels, missing, others = names_in_message(message)
        direct = {key_of(name_of(r)): r for r in requirements if key_of(name_of(r)) not in protected}
        pinned = {key_of(name_of(c)): exact_version(c) for c in constraints}
        for name in map(key_of, missing):
            if name in direct:
                self._drop(name, direct[name], f"there is no project named {name} on the package index")
                return True
        if any(self._try_build(key_of(name), direct, pinned, constraints) for name in wheels):
            return True
        ordered = [*map(key_of, others), *direct]
        for name in dict.fromkeys(n for n in ordered if n in direct):
            problem = self._diagnose(name, specifier_of(direct[name]), pinned.get(name))
            if problem is not None:
                self._drop(name, direct[name], problem)
                return True
        return False

    def _diagnose(self, name: str, specifier: SpecifierSet, locked: str | None) -> str | None:
        """What the index says is wrong with a direct requirement, or None when it looks installable."""
        releases = self.index.releases(name)
        python = self.request.target.python
        if releases is None:
            return f"there is no project named {name} on the package index"
        matching = [r for r in releases if specifier.contains(r.version, prereleases=True)]
        wanted = f"{name}{specifier}" if str(specifier) else name
        if not matching:
            return f"no release of {wanted} exists on the package index (newest: {releases[0].version})"
        if locked is not None:  # a lock that excludes what is declared is a conflict, not a missing release
            matching = [r for r in matching if str(r.version) == locked or r.version.public == locked]
            if not matching:
                return None
        # The requirement's own specifier: with an empty one, pre-releases (0.61b0) would not count at all.
        if not usable_releases(matching, specifier, python, None):
            needs = next((f.requires_python for f in matching[0].files if f.requires_python), "another Python")
            return f"no release of {wanted} supports Python {python} (the newest needs {needs})"
        if not self._exempt_name(name) and not usable_releases(matching, specifier, python, self.request.as_of):
            return f"no release of {wanted} for Python {python} was published before {_day(self.request.as_of)}"
        return None

    def _exempt_name(self, name: str) -> bool:
        return self.request.as_of is None or name in tool_closure(self.request.tools)

    def _drop(self, name: str, requirement: str, why: str) -> None:
        self.state.dropped.add(name)
        self._note(f"{requirement!r} was not installed: {why}.", "deps.not-installed", Severity.WARNING)

    # --- building from source ---------------------------------------------------------------------------

    def _try_build(self, name: str, direct: dict[str, str], pinned: dict[str, str | None],
                   constraints: Sequence[str]) -> bool:
        """Build the source archive of the release uv would pick for `name`; True when a new wheel appeared, or
        when what needs a package that cannot be built was left out (so the rest still installs)."""
        if name in self.state.unbuildable:  # asked for again: by direct requirements still in the set
            return self._drop_needing(name, direct, constraints)
        if name in self.state.dropped or self.state.build_attempts.get(name, 0) >= MAX_BUILDS_PER_PACKAGE:
            return False
        release = self._release_to_build(name, direct.get(name), pinned.get(name))
        if release is None:
            return False
        sdist = next((f for f in release.files if f.is_sdist and f.sha256), None)
        if sdist is None or self.state.built.get(name) == str(release.version):
            return False
        self.state.build_attempts[name] = self.state.build_attempts.get(name, 0) + 1
        if self.builder is None:
            if name not in direct and self._unlock(name, release, constraints, "the local backend builds nothing"):
                return True
            self._note(f"{name} {release.version} has no wheel for this machine and the local backend does not "
                       "build source archives, so it was not installed; grade with --sandbox docker.",
                       "deps.no-wheel", Severity.WARNING)
            self.state.unbuildable.add(name)
            return self._drop_needing(name, direct, constraints)
        self.log(f"building {name} {release.version} from source in a container (no wheel for Python "
                 f"{self.request.target.python})")
        from grader.builds import build_from_source

        outcome = build_from_source(self, fetch(sdist.url, sdist.sha256, sdist.filename), sdist.sha256 or "")
        if outcome.wheel is None and name not in direct and self._unlock(name, release, constraints,
                                                                         "it does not build"):
            return True
        if outcome.wheel is None:
            self._note(f"{name} {release.version} has no wheel for Python {self.request.target.python} and could "
                       f"not be built from source, so it was not installed; the build said: {outcome.log_tail}",
                       "deps.build-failed", Severity.WARNING)
            self.state.unbuildable.add(name)
            return self._drop_needing(name, direct, constraints)
        self.state.built[name] = str(release.version)
        return True

    def _drop_needing(self, name: str, direct: dict[str, str], constraints: Sequence[str]) -> bool:
        """Leave out `name` (a direct requirement) or the direct requirements that need it; True if any."""
        if name in direct:
            self.state.dropped.add(name)
            return True
        needing = [key for key, requirement in direct.items() if key not in self.state.dropped
                   and name in map(key_of, self._wheels_wanted(requirement, constraints))]
        for key in needing:
            self._drop(key, direct[key], f"it needs {name}, which could not be installed")
        return bool(needing)

    def _unlock(self, name: str, release: Release, constraints: Sequence[str], why: str) -> bool:
        """Set free a dependency the lock pins at a release that cannot be installed here (no wheel for this
        Python, and `why` it was not built): the resolution then picks a version that installs, as of the
        submission's date, so what needs it keeps working. True if `name` was locked at `release`."""
        lock = self.request.lock
        locked = lock.versions().get(name) if lock else None
        if lock is None or locked != str(release.version) or name in self.state.unlocked \
                or f"{name}=={locked}" not in constraints:
            return False
        self.state.unlocked.add(name)
        self._note(f"{name} {locked}, as {lock.file} locks it, has no wheel for Python "
                   f"{self.request.target.python} and {why}, so another version of it was resolved; regenerate "
                   "the lock file for this Python.", "deps.lock-relaxed", Severity.WARNING, lock.file)
        return True

    def _wheels_wanted(self, requirement: str, constraints: Sequence[str]) -> list[str]:
        """The packages uv says need a wheel when `requirement` is resolved on its own."""
        outcome = compile_requirements(CompileRequest(
            requirements=(requirement,), target=self.request.target, constraints=tuple(constraints),
            as_of=self.request.as_of, exempt=self._exempt((requirement,), constraints),
            find_links=(self.built_dir,) if self.built_dir.is_dir() else (),
        ))
        return [] if outcome.pins is not None else names_in_message(outcome.message)[0]

    def _release_to_build(self, name: str, requirement: str | None, locked: str | None) -> Release | None:
        """The newest release allowed here (lock, specifier, date, Python) that has no wheel but an sdist."""
        releases = self.index.releases(name) or []
        specifier = specifier_of(requirement) if requirement else SpecifierSet()
        if locked is not None:
            specifier &= SpecifierSet(f"=={locked}")
        before = None if self._exempt_name(name) or locked else self.request.as_of
        for release in usable_releases(releases, specifier, self.request.target.python, before):
            if any(f.is_wheel and wheel_fits(f.filename, self.tags) for f in release.files):
                return None  # uv can use this one as it is: the problem lies elsewhere
            if any(f.is_sdist for f in release.files):
                return release
        return None

    # --- the record ---------------------------------------------------------------------------------------

    def _records(self, main: tuple[Pin, ...], test: tuple[Pin, ...], main_requirements: Sequence[str],
                 lock: LockFile | None) -> list[Resolved]:
        main_names = {key_of(pin.name) for pin in main}
        locked = lock.versions() if lock else {}
        exact = {key_of(name_of(r)): exact_version(r) for r in (*main_requirements, *self.request.test)}
        tools = {key_of(name_of(t)) for t in self.request.tools} - set(exact)
        records = []
        for pin in test or main:
            name = key_of(pin.name)
            wheel = next((w for w in pin.wheels if wheel_fits(w.filename, self.tags)), None)
            if wheel is None:
                self._note(f"{pin.name} {pin.version} has no wheel for this sandbox, so it was not installed.",
                           "deps.no-wheel", Severity.WARNING)
                continue
            origin: Origin = ("lock" if locked.get(name) == pin.version else
                              "pin" if exact.get(name) == pin.version else
                              "tool" if name in tools else "resolved")
            records.append(Resolved(name, pin.version, origin, "main" if name in main_names else "test",
                                    _built_here(wheel.url), wheel.url, wheel.sha256, wheel.filename))
        return records

    def _note(self, message: str, rule: str, severity: Severity = Severity.INFO, file: str | None = None) -> None:
        self.state.findings.append(Finding(message=message, file=file, severity=severity, rule=rule))


def resolve(request: ResolveRequest, builder: Builder | None, log: Log = print) -> Resolution:
    """The exact packages for `request` (see the module docstring); raises ResolverUnavailable/IndexUnavailable
    only for the grader's own problems (no index, no uv)."""
    return Resolver(request, builder, log).run()


# --- small helpers -----------------------------------------------------------------------------------------------


def _built_here(url: str) -> bool:
    """Whether a wheel is one the grader built from source (it lives in the cache's `built/`, not the index),
    whichever resolution built it first."""
    if not url.startswith("file://"):
        return False
    return Path(unquote(urlparse(url).path)).resolve().is_relative_to(cache.built_path("").resolve())


def _summary(message: str, limit: int = 400) -> str:
    """uv's explanation without its framing: the `cause:` text, joined into one line."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    body = [line.removeprefix("cause:").strip() for line in lines
            if not line.startswith(("error:", "hint:")) and not line.startswith("warning:")]
    text = " ".join(body) or (lines[0] if lines else "no explanation")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _day(moment: datetime | None) -> str:
    return moment.date().isoformat() if moment else "now"
