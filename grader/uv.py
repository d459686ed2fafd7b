"""The resolver: uv's `pip compile`, run on the host with building from source turned off.

uv (on PyPI as a wheel that carries its binary) resolves a requirement set for the sandbox's Python and
platform, honours `--exclude-newer` (resolve "as of" a date) and constraints (a candidate's locked versions),
and prints the result as a PEP 751 lock (`--format pylock.toml`): every package's exact version and the
URL and sha256 of its wheel. That lock is the structured output the grader reads; uv's human-readable
error text is only searched for the names of the packages it involves (see `grader.resolve`).

Safety: `--no-build` means uv never runs a package's build backend (setup.py) on the host. uv runs in a
scratch directory of the grader's, never in the candidate's project, and reads requirement files the grader
wrote from parsed requirements, so nothing a candidate wrote can add an option, an index or a config file.
The operator's own uv configuration (`UV_DEFAULT_INDEX`, a user `uv.toml`) is honoured: the index is theirs.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import shlex
import tempfile
import time
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from grader.cache import resolver_cache_dir
from grader.processes import Finished, TimedOut
from grader.processes import run as run_process

detail = logging.getLogger(__name__)  # `grader -v` shows these lines

UV_TIMEOUT_S = 600
FAR_FUTURE = "2999-12-31T00:00:00Z"  # an `--exclude-newer-package` cutoff that excludes nothing
_NETWORK_SIGNS = ("Failed to fetch", "error sending request", "dns error", "tcp connect error",
                  "Could not connect", "timed out", "network was disabled")


class ResolverUnavailable(Exception):
    """uv could not run, or could not reach the package index: the grader's problem, not the candidate's."""


@dataclass(frozen=True)
class Target:
    """What a resolution is for: a Python version (major.minor) and a uv platform name (None: this machine)."""

    python: str
    platform: str | None

    @property
    def key(self) -> str:
        return f"py{self.python}-{self.platform or 'host'}"


@dataclass(frozen=True)
class LockedFile:
    """One file of a resolved package, as uv's PEP 751 output gives it."""

    url: str
    sha256: str | None
    filename: str


@dataclass(frozen=True)
class Pin:
    """One resolved package: its exact version and the wheels uv found for it (compatible ones only)."""

    name: str
    version: str
    wheels: tuple[LockedFile, ...]
    sdist: LockedFile | None


@dataclass(frozen=True)
class CompileOutcome:
    """Pins when the resolution succeeded, else uv's message (its `cause:` and `hint:` lines)."""

    pins: tuple[Pin, ...] | None
    message: str


@dataclass(frozen=True)
class CompileRequest:
    """Everything one `uv pip compile` needs; requirement strings must already be parsed and rendered."""

    requirements: tuple[str, ...]
    target: Target
    constraints: tuple[str, ...] = ()
    as_of: datetime | None = None
    exempt: tuple[str, ...] = ()  # names free of the `as_of` cutoff (locked, pinned or the grader's tools)
    find_links: tuple[Path, ...] = ()  # directories of wheels the grader built from source


def uv_binary() -> str:
    """Path of the uv executable shipped with the `uv` package."""
    try:
        from uv import find_uv_bin
    except ImportError as exc:
        raise ResolverUnavailable("the `uv` package is not installed: pip install uv") from exc
    return str(find_uv_bin())


@functools.lru_cache(maxsize=1)
def uv_version() -> str:
    """`uv 0.13.9`, for the result's record of how dependencies were resolved."""
    done = _run([uv_binary(), "--version"], Path(tempfile.gettempdir()), timeout=60)
    return done.stdout.strip() or "uv"


def uv_env() -> dict[str, str]:
    """The operator's environment plus the grader's cache for uv; never any interpreter download."""
    env = dict(os.environ)
    env.setdefault("UV_CACHE_DIR", str(resolver_cache_dir()))
    env["UV_PYTHON_DOWNLOADS"] = "never"
    env["UV_NO_PROGRESS"] = "1"
    env.pop("VIRTUAL_ENV", None)
    return env


def compile_requirements(request: CompileRequest) -> CompileOutcome:
    """Resolve `request` with uv (no building from source); never raises for an unsatisfiable set."""
    with tempfile.TemporaryDirectory(prefix="grader-uv-") as scratch_name:
        scratch = Path(scratch_name)
        command = _compile_command(request, scratch)
        done = _run(command, scratch, timeout=UV_TIMEOUT_S)
    if done.returncode == 0:
        return CompileOutcome(_read_pylock(done.stdout), "")
    message = done.stderr.strip()
    if any(sign in message for sign in _NETWORK_SIGNS) and "No solution found" not in message:
        raise ResolverUnavailable(f"uv could not reach the package index: {_last_cause(message)}")
    if "No solution found" not in message:
        raise ResolverUnavailable(f"uv could not resolve the requirements: {_last_cause(message)}")
    return CompileOutcome(None, message)


def _compile_command(request: CompileRequest, scratch: Path) -> list[str]:
    requirements = scratch / "requirements.in"
    requirements.write_text("".join(f"{line}\n" for line in request.requirements), encoding="utf-8")
    command = [uv_binary(), "pip", "compile", str(requirements), "--format", "pylock.toml", "--no-build",
               "--no-header", "--no-python-downloads", "--quiet", "--python-version", request.target.python]
    if request.target.platform:
        command += ["--python-platform", request.target.platform]
    if request.constraints:
        constraints = scratch / "constraints.txt"
        constraints.write_text("".join(f"{line}\n" for line in request.constraints), encoding="utf-8")
        command += ["--constraints", str(constraints)]
    if request.as_of is not None:
        command += ["--exclude-newer", rfc3339(request.as_of)]
        for name in sorted(set(request.exempt)):
            command += ["--exclude-newer-package", f"{name}={FAR_FUTURE}"]
    for directory in request.find_links:
        command += ["--find-links", str(directory)]
    return command


def rfc3339(moment: datetime) -> str:
    """`2024-03-05T23:59:59Z` (UTC)."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _run(command: Sequence[str], cwd: Path, timeout: float) -> Finished:
    detail.debug("running %s", shlex.join(command))
    started = time.monotonic()
    try:
        done = run_process(command, cwd=cwd, env=uv_env(), timeout_s=timeout)
        detail.debug("uv exited with %d after %.1f s", done.returncode, time.monotonic() - started)
        return done
    except FileNotFoundError as exc:
        raise ResolverUnavailable(f"uv could not be started ({exc.strerror}); reinstall the grader") from exc
    except TimedOut as exc:
        raise ResolverUnavailable(f"uv took more than {timeout:.0f} s to resolve; retry later") from exc


def _last_cause(message: str) -> str:
    """uv's innermost `cause:` line (the most specific), else its first line."""
    causes = [line.strip().removeprefix("cause:").strip() for line in message.splitlines()
              if line.strip().startswith("cause:")]
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    return (causes[-1] if causes else lines[0] if lines else "no output")[:300]


def _read_pylock(text: str) -> tuple[Pin, ...]:
    document = tomllib.loads(text)
    pins = []
    for package in document.get("packages", []):
        wheels = tuple(_file(item) for item in package.get("wheels", []) if isinstance(item, dict))
        sdist = _file(package["sdist"]) if isinstance(package.get("sdist"), dict) else None
        pins.append(Pin(str(package["name"]), str(package["version"]), wheels, sdist))
    return tuple(pins)


def _file(item: dict[str, object]) -> LockedFile:
    url = str(item.get("url") or item.get("path") or "")
    hashes = item.get("hashes")
    sha256 = str(hashes["sha256"]) if isinstance(hashes, dict) and "sha256" in hashes else None
    name = str(item.get("name") or url.rsplit("/", 1)[-1].split("#", 1)[0])
    return LockedFile(url, sha256, name)


@functools.lru_cache(maxsize=1)
def index_urls() -> tuple[str, ...]:
    """The indexes uv uses here, in its order of priority (extra indexes first, the default last): the
    operator's configuration, else uv's own default."""
    with tempfile.TemporaryDirectory(prefix="grader-uv-") as scratch_name:
        scratch = Path(scratch_name)
        empty = scratch / "empty.in"
        empty.write_text("", encoding="utf-8")
        done = _run([uv_binary(), "pip", "compile", str(empty), "--emit-index-url", "--no-header", "--quiet",
                     "--no-python-downloads"], scratch, timeout=120)
    default = re.findall(r"^--index-url\s+(\S+)", done.stdout, re.MULTILINE)
    extra = re.findall(r"^--extra-index-url\s+(\S+)", done.stdout, re.MULTILINE)
    if not default and not extra:
        raise ResolverUnavailable("uv did not say which package index it uses")
    return tuple(url.rstrip("/") + "/" for url in (*extra, *default))


WHEELS_REQUIRED = re.compile(r"Wheels are required for `([^`]+)`")
NOT_FOUND = re.compile(r"([A-Za-z0-9][A-Za-z0-9._-]*) was not found in the package registry")
NAMED = re.compile(r"(?:Because|and|that|of) ([A-Za-z0-9][A-Za-z0-9._-]*)(?:[<>=!~][^ ,]*)? ")


def names_in_message(message: str) -> tuple[list[str], list[str], list[str]]:
    """(needs-a-wheel names, not-found names, every other name) that uv's error text mentions."""
    wheels = WHEELS_REQUIRED.findall(message)
    missing = NOT_FOUND.findall(message)
    others = [name for name in NAMED.findall(message) if name not in ("the", "you", "your", "we", "all")]
    return wheels, missing, others
