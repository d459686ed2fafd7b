"""A submission's environment, from what its author declared to the image or venv its code runs in.

intake reads the declared requirements (`grader.deps`), the lock file (`grader.locks`) and the date the
work was done (`as_of`); `prepare_wheels` resolves the exact versions (`grader.resolve`), fetches each
wheel once into the content-addressed store (`grader.index`) and links them into a wheel set, one
directory per resolution request. A wheel set is resolved once: `.grader-wheelset.json` records the
resolution, and later gradings with the same request (same declarations, lock, date, Python and
platform) skip the resolver and the index entirely.

`prepare_environments` then decides which environments a grading runs in: the runner of the grader's own
tools (on a backend that has one) and the candidate's environment. It keys each one (`environment_key`),
has the backend build it or find it built on its foundation (`Sandbox.build`: an image, or a venv), and
says why it was built or reused (`explain`).
"""

from __future__ import annotations

import json
import platform
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from time import monotonic
from typing import Literal

from grader import cache
from grader.cache import WHEELSET_MARKER, touch
from grader.deps import DependencySet, read_dependencies, read_test_dependencies
from grader.index import IndexUnavailable, fetch_all
from grader.locks import LockFile, find_lock
from grader.models import Challenge, DependencyRecord, Finding, PackageRecord, Severity
from grader.resolve import Builder, Resolution, Resolved, ResolveRequest, resolve
from grader.sandbox.base import Environment, EnvironmentRequest, Environments, Foundation, Role, Sandbox
from grader.sandbox.services import ServiceRequest
from grader.toolchain import candidate_tools, runner_request
from grader.uv import ResolverUnavailable, Target

# Bumped when the way a wheel set is made changes, so sets made the old way are made again
# (3: uv resolutions with locks, dates and wheels built from source; 4: locked tools, locks relaxed for
# releases that cannot install, tools that fit the app, psycopg[binary]; 5: `built` read from where the wheel
# lives, packages that cannot be had take with them only what needs them; 6: test tools raised to releases
# that run on the sandbox's Python).
WHEELSET_FORMAT = 6
# A submission's date is trusted only inside this window: zip tools write 1980 for "unknown".
EARLIEST_PLAUSIBLE = datetime(2008, 1, 1, tzinfo=UTC)
Log = Callable[[str], None]


class DependencyError(Exception):
    """The grader could not resolve or fetch the dependencies (no index, no resolver): not the candidate's fault."""


@dataclass(frozen=True)
class AsOf:
    """The cutoff for resolving unlocked versions, and where it came from."""

    moment: datetime | None  # None: no cutoff (the newest versions)
    source: str  # "HEAD commit date", "newest file date", "--resolve-as-of", "none"


@dataclass(frozen=True)
class Declared:
    """What a submission declares about its dependencies."""

    main: DependencySet
    test: DependencySet
    lock: LockFile | None
    as_of: AsOf

    @property
    def findings(self) -> tuple[Finding, ...]:
        return (*self.main.findings, *self.test.findings, *(self.lock.findings if self.lock else ()))


@dataclass(frozen=True)
class WheelSet:
    """Wheels in `directory`, the exact pins the sandbox installs from them, and how they were decided."""

    directory: Path
    installable: tuple[str, ...]
    resolution: Resolution
    resolve_s: float = 0.0  # what this call spent resolving (0.0: the set was made before and reused)
    download_s: float = 0.0  # what it spent fetching wheels into the store and linking them (0.0: reused)


def read_declared(project_dir: Path, dated: datetime | None, dated_by: str,
                  override: datetime | Literal["now"] | None = None) -> Declared:
    """The project's declared requirements, its lock file and the resolution cutoff."""
    return Declared(read_dependencies(project_dir), read_test_dependencies(project_dir), find_lock(project_dir),
                    as_of_cutoff(dated, dated_by, override))


def as_of_cutoff(dated: datetime | None, dated_by: str, override: datetime | Literal["now"] | None) -> AsOf:
    """The end of the UTC day the work is dated (so every release of that day counts), or the override."""
    if override == "now":
        return AsOf(None, "--resolve-as-of now")
    if isinstance(override, datetime):
        return AsOf(_end_of_day(override), "--resolve-as-of")
    if dated is None or not EARLIEST_PLAUSIBLE <= dated <= datetime.now(UTC) + timedelta(days=1):
        return AsOf(None, "none (the submission carries no plausible date)")
    return AsOf(_end_of_day(dated), dated_by)


def _end_of_day(moment: datetime) -> datetime:
    day = moment.astimezone(UTC).date() if moment.tzinfo else moment.date()
    return datetime.combine(day, time(23, 59, 59), tzinfo=UTC)


def sandbox_target(python: str, wheel_target: str) -> Target:
    """What to resolve for: CPython `python` in a Linux container on this machine's architecture (glibc of
    the base image, Debian 12: 2.36), or the host itself (the local backend)."""
    if wheel_target == "linux-container":
        arch = {"arm64": "aarch64", "amd64": "x86_64"}.get(platform.machine().lower(), platform.machine().lower())
        return Target(python, f"{arch}-manylinux_2_36")
    return Target(python, None)


def candidate_request(declared: Declared, target: Target) -> ResolveRequest:
    """The resolution of a candidate's environment: their requirements plus the grader's test tools."""
    return ResolveRequest(main=declared.main.requirements, test=declared.test.requirements, tools=candidate_tools(),
                          lock=declared.lock, target=target, as_of=declared.as_of.moment)


def prepare_wheels(request: ResolveRequest, builder: Builder | None, log: Log) -> WheelSet:
    """The wheel set for `request`: resolved and fetched once, then reused (a lock per set)."""
    key = f"{request.key()[:40]}-f{WHEELSET_FORMAT}"
    directory = cache.wheelset_dir(key)
    found = _read_wheelset(directory)
    if found is not None:
        return found
    with cache.entry_lock("wheelsets", key):
        found = _read_wheelset(directory)
        if found is not None:
            return found
        started = monotonic()
        try:
            resolution = resolve(request, builder, log)
            resolved_at = monotonic()
            paths = fetch_all([(p.url, p.sha256, p.filename) for p in resolution.packages])
        except (ResolverUnavailable, IndexUnavailable) as exc:
            raise DependencyError(str(exc)) from exc
        cache.link_files(paths, directory)
        _write_wheelset(directory, resolution)
        fetched_at = monotonic()
    return WheelSet(directory, _installable(resolution), resolution, round(resolved_at - started, 3),
                    round(fetched_at - resolved_at, 3))


def _installable(resolution: Resolution) -> tuple[str, ...]:
    return tuple(f"{p.name}=={p.version}" for p in resolution.packages)


def _read_wheelset(directory: Path) -> WheelSet | None:
    marker = directory / WHEELSET_MARKER
    try:
        data = json.loads(marker.read_text(encoding="utf-8"))
        if data.get("format") != WHEELSET_FORMAT:
            return None
        resolution = Resolution(
            packages=tuple(Resolved(**item) for item in data["packages"]),
            findings=tuple(Finding.model_validate(f) for f in data["findings"]),
            lock_file=data.get("lock_file"),
            resolver=str(data.get("resolver", "")),
        )
        if not all((directory / p.filename).is_file() for p in resolution.packages):
            return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    touch(marker)
    return WheelSet(directory, _installable(resolution), resolution)


def _write_wheelset(directory: Path, resolution: Resolution) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": WHEELSET_FORMAT,
        "packages": [p.__dict__ for p in resolution.packages],
        "findings": [f.model_dump(mode="json") for f in resolution.findings],
        "lock_file": resolution.lock_file,
        "resolver": resolution.resolver,
    }
    tmp = directory / f"{WHEELSET_MARKER}.tmp"
    tmp.write_text(json.dumps(payload, indent=1), encoding="utf-8")
    tmp.replace(directory / WHEELSET_MARKER)


def dependency_record(declared: Declared, wheels: WheelSet) -> DependencyRecord:
    """What result.json says about the environment: each package's version and what decided it."""
    resolution = wheels.resolution
    return DependencyRecord(
        declared_in=declared.main.source,
        lock_file=resolution.lock_file,
        as_of=declared.as_of.moment.date().isoformat() if declared.as_of.moment else None,
        as_of_source=declared.as_of.source,
        resolver=resolution.resolver,
        packages=[PackageRecord(name=p.name, version=p.version, origin=p.origin, group=p.group,
                                built_from_source=p.built) for p in resolution.packages],
    )


def as_of_finding(declared: Declared) -> Finding | None:
    """An INFO finding saying how unlocked versions were chosen, when something was resolved by date."""
    moment = declared.as_of.moment
    if moment is None:
        return None
    return Finding(message=f"Versions not locked or pinned were resolved as of {moment.date().isoformat()} "
                           f"({declared.as_of.source}), so the project installs what worked when it was written.",
                   severity=Severity.INFO, rule="deps.as-of")


# --- the environments a grading runs in -------------------------------------------------------------------


def challenge_services(challenge: Challenge) -> tuple[ServiceRequest, ...]:
    """The services the challenge declares, in a fixed order (the submission never adds any)."""
    return tuple(ServiceRequest(kind, spec.version) for kind, spec in sorted(challenge.services.items()))


def prepare_environments(sandbox: Sandbox, python: str, wheels: WheelSet, log: Log) -> Environments:
    """The runner (on a backend whose tools run apart) and the candidate's environment, each built once per key
    and reused: the runner from the grader's locked tools, the candidate's from `wheels`."""
    foundation = sandbox.foundation()
    runner = None
    if sandbox.separate_runner:
        tools = prepare_wheels(runner_request(sandbox_target(python, sandbox.wheel_target)), None, log)
        runner = build_environment(sandbox, foundation, "runner", python, tools.installable, tools.directory)
    candidate = build_environment(sandbox, foundation, "env", python, wheels.installable, wheels.directory)
    for environment in (candidate, runner):  # last use, for `grader cache prune` and a configured cache size
        if environment is not None:
            cache.mark_image_used(environment.key)
    return Environments(candidate, runner)


def build_environment(sandbox: Sandbox, foundation: Foundation, role: Role, python: str,
                      requirements: tuple[str, ...], wheels_dir: Path | None) -> Environment:
    """The environment of `role` with exactly `requirements`: keyed here, built or found by the backend."""
    key = environment_key(foundation, role, python, requirements)
    return sandbox.build(foundation, EnvironmentRequest(role, key, python, requirements, wheels_dir))


def environment_key(foundation: Foundation, role: Role, python: str, requirements: tuple[str, ...]) -> str:
    """What makes two environments the same: an image's base image, Python, requirements and role; a venv's
    interpreter version and requirements; always the grader's version, and for an image the layout of its build
    (`grader.cache` hashes them)."""
    if foundation.kind == "interpreter":
        return cache.venv_key(foundation.identity, requirements)
    return cache.image_key(foundation.identity, python, requirements if role == "env" else ("runner", *requirements))


def explain(environment: Environment, python: str) -> str:
    """Why `environment` was built or reused, for the log; a warning when its Python is not the one asked for."""
    what = f"image {environment.image}" if environment.image else f"venv {environment.key[:12]}"
    if environment.reused:
        why = "same requirements"
    elif environment.repaired:
        why = "the previous build was incomplete"
    else:
        why = "new requirements" if environment.image else "no venv with these requirements yet"
    warning = "" if environment.python == python else (
        f"; warning: the challenge asks for Python {python} but the local interpreter is {environment.python}")
    return f"{'reused' if environment.reused else 'built'} {what}: {why}{warning}"
