"""Start the tiny observability apps of tests/fixtures/observability/ as real processes on free ports."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from tests.conftest import REPO_ROOT, free_port, wait_for_port

APPS = REPO_ROOT / "tests" / "fixtures"
STOP_TIMEOUT_S = 30


@contextlib.contextmanager
def tiny_app(script: str, env: Mapping[str, str] | None = None) -> Iterator[str]:
    """Run `script` (with this interpreter, which has the SDKs) until the block ends; yields its base URL."""
    port = free_port()
    process = subprocess.Popen([sys.executable, str(APPS / script)], env={**os.environ, **(env or {}),
                                                                          "PORT": str(port)},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, process, script)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def run_suite(suite: Path, env: Mapping[str, str]) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """Run a challenge-style suite under the grader's plugin, as the runner does, with `env` added; the
    process and the plugin's report of each test by name (outcome, message)."""
    report = suite.parent / "report.json"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "checks.pytest_plugin", "-p", "no:cacheprovider", "-q", str(suite),
         "--grader-report", str(report)],
        cwd=suite.parent, capture_output=True, text=True, timeout=180,
        env={"PYTHONPATH": str(REPO_ROOT), "PATH": "/usr/bin:/bin", **env},
    )
    tests = json.loads(report.read_text())["tests"] if report.exists() else []
    return result, {test["name"]: test for test in tests}
