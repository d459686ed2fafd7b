"""The local backend's environments: one venv per key, built offline from a wheels directory.

A venv lives in the store (`grader.cache.venv_dir`) under the key `grader.environments` gave it (the
interpreter's major.minor, the requirements and the grader version). It is built in place (venvs are not
relocatable) with `pip --no-index` from wheels the host downloaded beforehand, and a marker written last tells
a complete venv from an interrupted build.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import grader
from grader import cache
from grader.processes import Finished, TimedOut
from grader.processes import run as run_process
from grader.sandbox.base import Environment, EnvironmentRequest, SandboxError
from grader.sandbox.local_env import essential_env, remove_tree

MARKER_NAME = ".grader-complete"  # written last: a venv without it is an unfinished build
REQUIREMENTS_NAME = "grader-requirements.txt"
VENV_TIMEOUT_S = 300.0
PIP_TIMEOUT_S = 900.0
VERSION_TIMEOUT_S = 60.0


def ensure_venv(python: str, version: str, request: EnvironmentRequest) -> Environment:
    """The complete venv under the request's key, else one built now offline (under the key's lock)."""
    venv = cache.venv_dir(request.key)
    if venv_complete(venv):
        return _environment(request.key, version, venv, reused=True)
    with cache.entry_lock("venvs", request.key):
        if venv_complete(venv):  # another grader finished it while we waited for the lock
            return _environment(request.key, version, venv, reused=True)
        leftover = venv.exists()
        _build(python, venv, request, version)
    return _environment(request.key, version, venv, reused=False, repaired=leftover)


def ask_version(python: str) -> str:
    """The interpreter's `major.minor`; SandboxError when it cannot be run."""
    code = "import sys; print('%d.%d' % sys.version_info[:2])"
    try:
        result = run_process([python, "-c", code], timeout_s=VERSION_TIMEOUT_S, env=essential_env())
    except (OSError, TimedOut) as exc:
        raise SandboxError(f"cannot run the Python interpreter {python}: {exc}") from exc
    if result.returncode != 0:
        raise SandboxError(f"the Python interpreter {python} failed: {_last_error_line(result.stderr)}")
    return result.stdout.strip()


def venv_complete(venv: Path) -> bool:
    """Whether `venv` was built to the end and its interpreter is still there."""
    # `exists()` follows the interpreter symlink: a venv whose base interpreter is gone is not usable.
    return (venv / MARKER_NAME).is_file() and (venv / "bin" / "python").exists()


def venv_of(environment: Environment) -> Path:
    """The venv of a local environment; SandboxError for any other backend's."""
    if environment.backend != "local" or environment.venv is None:
        raise SandboxError(f"the local backend cannot run in a {environment.backend} environment")
    return environment.venv


def _environment(key: str, version: str, venv: Path, reused: bool, repaired: bool = False) -> Environment:
    return Environment(backend="local", key=key, python=version, reused=reused, venv=venv, repaired=repaired)


def _build(python: str, venv: Path, request: EnvironmentRequest, version: str) -> None:
    """Build the venv in place (venvs are not relocatable) and write the marker last."""
    remove_tree(venv)
    try:
        _create_venv(python, venv, with_pip=bool(request.requirements))
        if request.requirements:
            _pip_install(venv, request.requirements, request.wheels_dir, request.key)
        _write_marker(venv, _marker_payload(request, version))
    except BaseException:
        remove_tree(venv)
        raise


def _create_venv(python: str, venv: Path, with_pip: bool) -> None:
    # A venv without requirements needs no pip, and skipping ensurepip saves seconds per build.
    command = [python, "-m", "venv", *(() if with_pip else ("--without-pip",)), str(venv)]
    result = _run_tool(command, VENV_TIMEOUT_S, "create the venv")
    if result.returncode != 0:
        detail = _last_error_line(result.output)
        raise SandboxError(f"could not create a venv with {python}: {detail}")


def _pip_install(venv: Path, requirements: Sequence[str], wheels_dir: Path | None, key: str) -> None:
    if wheels_dir is None:
        raise SandboxError(
            f"the local backend needs a wheels directory to install {len(requirements)} requirements offline"
        )
    reqfile = venv / REQUIREMENTS_NAME
    reqfile.write_text("".join(f"{line}\n" for line in requirements))
    command = [
        str(venv / "bin" / "python"), "-m", "pip", "install", "--no-index", "--find-links", str(wheels_dir),
        "--only-binary=:all:", "--no-cache-dir", "--no-deps",  # never build (run) an sdist here
        "-r", str(reqfile),  # the whole resolution, exact pins (grader.resolve)
    ]
    result = _run_tool(command, PIP_TIMEOUT_S, "install the requirements")
    if result.returncode != 0:
        detail = _last_error_line(result.output)
        raise SandboxError(f"pip could not install the requirements into venv {key[:12]}: {detail}")


def _run_tool(command: Sequence[str], timeout_s: float, what: str) -> Finished:
    env = essential_env()
    env.update(PIP_NO_INPUT="1", PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_CONFIG_FILE=os.devnull)
    try:
        return run_process(command, timeout_s=timeout_s, env=env)
    except TimedOut as exc:
        raise SandboxError(f"could not {what}: it took longer than {timeout_s:g}s") from exc
    except OSError as exc:
        raise SandboxError(f"could not {what}: {exc}") from exc


def _last_error_line(output: str) -> str:
    """The last `ERROR:` line of a tool's output, else its last non-empty line."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("ERROR:")]
    if errors:
        return errors[-1]
    return lines[-1] if lines else "no output"


def _marker_payload(request: EnvironmentRequest, version: str) -> dict[str, object]:
    return {
        "key": request.key,
        "python": request.python,
        "interpreter": version,
        "requirements": list(request.requirements),
        "wheels_dir": str(request.wheels_dir) if request.wheels_dir else None,
        "grader_version": grader.__version__,
    }


def _write_marker(venv: Path, payload: Mapping[str, object]) -> None:
    tmp = venv / f"{MARKER_NAME}.tmp"
    tmp.write_text(json.dumps(payload, indent=2))
    tmp.replace(venv / MARKER_NAME)
