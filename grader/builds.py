"""Wheels built from source archives, for packages the index ships without a wheel for the sandbox.

The host only *reads* a source archive (its `pyproject.toml`, for the build requirements); the build itself
runs in a throwaway container (`grader.sandbox.builder`). The build requirements are resolved and fetched
as wheels here, since the container has no network. A wheel (or a failure, with the end of its log) is
kept per archive hash, so each archive is built once however many gradings need it; a failure is tried
again only when the build environment changed.
"""

from __future__ import annotations

import io
import json
import tarfile
import tomllib
import zipfile
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from grader import cache
from grader.index import fetch_all
from grader.uv import CompileRequest, compile_requirements

if TYPE_CHECKING:
    from grader.resolve import BuildOutcome, Resolver

DEFAULT_BUILD_REQUIRES = ("setuptools>=40.8.0",)
ALWAYS_AVAILABLE = ("wheel",)  # setuptools asks for it dynamically on older releases
FAILED_MARKER = "failed.json"
# Bumped when the way build requirements are had changes, so builds that failed the old way are tried again
# (2: build requirements as of the submission's date, else the newest; 3: both tried, the newest `wheel`).
BUILD_FORMAT = 3
MAX_PYPROJECT_BYTES = 1024 * 1024


def build_from_source(resolver: Resolver, sdist: Path, sha256: str) -> BuildOutcome:
    """A wheel for `sdist`, from the cache or built by the resolver's builder, linked where uv finds it."""
    from grader.resolve import BuildOutcome

    assert resolver.builder is not None
    place = cache.built_path(f"{sha256}-{resolver.request.target.key}")
    cached = _cached(place, resolver.builder.identity)
    if cached is None:
        with cache.entry_lock("built", place.name):  # parallel gradings needing one archive build it once
            cached = _cached(place, resolver.builder.identity) or _build(resolver, sdist, place)
    if cached.wheel is not None:
        cache.link_files([cached.wheel], resolver.built_dir)
    return BuildOutcome(cached.wheel, cached.log_tail)


def _cached(place: Path, identity: str) -> BuildOutcome | None:
    from grader.resolve import BuildOutcome

    wheels = sorted(place.glob("*.whl")) if place.is_dir() else []
    if wheels:
        return BuildOutcome(wheels[0])
    try:
        failure = json.loads((place / FAILED_MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if failure.get("builder") != identity or failure.get("format") != BUILD_FORMAT:
        return None
    return BuildOutcome(None, str(failure.get("log_tail", "")))


def _build(resolver: Resolver, sdist: Path, place: Path) -> BuildOutcome:
    from grader.resolve import BuildOutcome

    assert resolver.builder is not None
    place.mkdir(parents=True, exist_ok=True)
    requires = build_requirements(sdist)
    outcome = BuildOutcome(None, f"its build requirements {list(requires)} could not be resolved")
    tried: list[list[Path]] = []
    for as_of in dict.fromkeys((resolver.request.as_of, None)):  # the tools of its day, then the newest
        build_wheels = _build_wheels(resolver, requires, as_of)
        if isinstance(build_wheels, str) or build_wheels in tried:
            continue
        tried.append(build_wheels)
        outcome = resolver.builder.build_wheel(sdist, build_wheels, place)
        if outcome.wheel is not None:
            break
    if outcome.wheel is None:
        marker = {"builder": resolver.builder.identity, "format": BUILD_FORMAT, "log_tail": outcome.log_tail}
        (place / FAILED_MARKER).write_text(json.dumps(marker), encoding="utf-8")
    return outcome


def _build_wheels(resolver: Resolver, requires: Sequence[str], as_of: datetime | None) -> list[Path] | str:
    """Wheels of the build requirements for the sandbox, as of `as_of` (None: the newest), or why they could
    not be had.

    The build tools of the submission's day come first (an old setup.py may import what a newer setuptools
    removed), then the newest (the default `setuptools>=40.8.0` has no release before 2019, and the tools of
    2020 may fail on a newer Python). `wheel` is always the newest: older releases refuse the tags of a Python
    newer than themselves ("would build wheel with unsupported tag")."""
    request = CompileRequest(requirements=(*requires, *ALWAYS_AVAILABLE), target=resolver.request.target,
                             as_of=as_of, exempt=ALWAYS_AVAILABLE)
    outcome = compile_requirements(request)
    if outcome.pins is None:
        return f"its build requirements {list(requires)} could not be resolved"
    files = []
    for pin in outcome.pins:
        wheel = next((w for w in pin.wheels), None)
        if wheel is None:
            return f"its build requirement {pin.name} {pin.version} has no wheel"
        files.append((wheel.url, wheel.sha256, wheel.filename))
    return fetch_all(files)


def build_requirements(sdist: Path) -> tuple[str, ...]:
    """`[build-system] requires` of the archive's pyproject.toml, read without running anything."""
    text = _member_text(sdist, "pyproject.toml")
    if text is None:
        return DEFAULT_BUILD_REQUIRES
    try:
        requires = tomllib.loads(text).get("build-system", {}).get("requires")
    except (tomllib.TOMLDecodeError, AttributeError):
        return DEFAULT_BUILD_REQUIRES
    if not isinstance(requires, list) or not all(isinstance(item, str) for item in requires):
        return DEFAULT_BUILD_REQUIRES
    return tuple(requires)


def _member_text(archive: Path, name: str) -> str | None:
    """The text of `<top>/<name>` in a source archive (tar or zip), or None."""
    try:
        if archive.name.endswith(".zip"):
            with zipfile.ZipFile(archive) as bundle:
                member = next((m for m in bundle.namelist() if _is_top_level(m, name)), None)
                return bundle.read(member).decode("utf-8", "replace") if member else None
        with tarfile.open(archive) as bundle:
            info = next((m for m in bundle.getmembers() if m.isfile() and _is_top_level(m.name, name)), None)
            if info is None or info.size > MAX_PYPROJECT_BYTES:
                return None
            handle = bundle.extractfile(info)
            return io.TextIOWrapper(handle, encoding="utf-8", errors="replace").read() if handle else None
    except (OSError, tarfile.TarError, zipfile.BadZipFile):
        return None


def _is_top_level(member: str, name: str) -> bool:
    parts = member.strip("/").split("/")
    return len(parts) == 2 and parts[1] == name
