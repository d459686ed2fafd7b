"""(b) The floor: the same tools run bare on the host, on the same code, one after the other.

pytest runs the hidden suite against the app already running (its start-up is not counted), coverage runs
the candidate's tests in a venv with the candidate's dependencies, mypy runs with the check's flags and
a warm cache (a first, untimed run warms it), ruff and radon run once each. The grader also runs
detect-secrets and hadolint (the practices check), which this floor leaves out, as the issue does.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.workload import Prepared, writable_copy
from checks.typecheck import CONFIG, MYPY_FLAGS
from grader.challenge import hidden_tests_dir
from grader.checks.registry import HIDDEN_TESTS
from grader.checks.spec import CheckContext
from grader.environments import build_environment
from grader.models import Challenge
from grader.paths import checks_dir
from grader.sandbox.health import wait_for_health
from grader.sandbox.local import LocalSandbox
from grader.sandbox.local_env import app_environment, free_port

BIN = Path(sys.executable).parent


def timed(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> float:
    """Wall seconds of one command (its exit code does not matter: failing checks are normal)."""
    started = time.perf_counter()
    subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False,
                   timeout=600)
    return time.perf_counter() - started


def bare_tools(prepared: Prepared, challenge: Challenge) -> dict[str, float]:
    """Seconds per tool for one solution."""
    wheels = prepared.host_wheels(challenge.python)
    sandbox = LocalSandbox()
    environment = build_environment(sandbox, sandbox.foundation(), "env", challenge.python, wheels.installable,
                                    wheels.directory)
    assert environment.venv is not None
    venv = environment.venv
    with tempfile.TemporaryDirectory(prefix="bench-bare-") as scratch:
        work = Path(scratch)
        code = writable_copy(prepared.snapshot, work / "code")
        (work / "data").mkdir()
        env = app_environment(venv, work / "data", free_port(), challenge.app.env)
        times = {"pytest (hidden suite)": _hidden_suite(prepared, challenge, code, env, work)}
        times["coverage run (candidate tests)"] = timed(
            [str(venv / "bin" / "python"), "-m", "coverage", "run", "--branch", "--data-file", str(work / ".cov"),
             "-m", "pytest", "-q", "-p", "no:cacheprovider"], code, env)
        mypy = [str(BIN / "mypy"), "--config-file", str(CONFIG), *MYPY_FLAGS, "--cache-dir", str(work / "mypy"),
                *prepared.app_files]
        timed(mypy, code)  # warms the cache
        times["mypy (warm cache)"] = timed(mypy, code)
        times["ruff"] = timed([str(BIN / "ruff"), "check", "--no-cache", "."], code)
        times["radon (cc + mi)"] = timed([str(BIN / "radon"), "cc", "-a", "."], code) + timed(
            [str(BIN / "radon"), "mi", "."], code)
    return times


def _hidden_suite(prepared: Prepared, challenge: Challenge, code: Path, env: dict[str, str], work: Path) -> float:
    """Start the app, wait for it, then time pytest on the hidden suite against it."""
    url = f"http://127.0.0.1:{env['PORT']}"
    assert prepared.start_command is not None
    app = subprocess.Popen(["/bin/sh", "-c", prepared.start_command], cwd=code, env=env, start_new_session=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        ready, detail = wait_for_health(url + challenge.app.health_path, 60)
        if not ready:
            raise RuntimeError(f"{prepared.name}: the app did not start on the host ({detail})")
        context = CheckContext(str(hidden_tests_dir(challenge)), str(work), sys.executable, app_url=url)
        pytest_env = {**os.environ, "PYTHONPATH": str(checks_dir().parent)}
        return timed(HIDDEN_TESTS.command(context), work, pytest_env)
    finally:
        os.killpg(app.pid, signal.SIGKILL)
        app.wait()
