"""(c) A naive grader: a fresh container per submission, dependencies installed from the host's wheel
cache with no environment reuse, mypy with a cold cache, every tool one after the other.

It runs in the grader's base image (the same Python), with no network, as root, and is timed from
`docker run` to the container's removal. The candidate's dependencies go into the image's venv and the
grader's tools into a second, fresh venv (a single install would conflict where the candidate pins its
own pytest).
"""

from __future__ import annotations

import shlex
import time
from typing import Any

from benchmarks.workload import Prepared
from checks.typecheck import MYPY_FLAGS
from grader.challenge import hidden_tests_dir
from grader.checks.registry import HIDDEN_TESTS
from grader.checks.spec import CheckContext
from grader.models import Challenge
from grader.paths import checks_dir
from grader.sandbox import images

LABEL = "grader.benchmark"


def naive_script(prepared: Prepared, challenge: Challenge) -> str:
    """The shell script the naive grader runs in its container."""
    port = challenge.app.port
    url = f"http://127.0.0.1:{port}"
    hidden = HIDDEN_TESTS.command(CheckContext("/grader/tests", "/tmp/out", app_url=url))
    env_reqs = " ".join(shlex.quote(r) for r in prepared.env_wheels.installable)
    tool_reqs = " ".join(shlex.quote(r) for r in prepared.runner_wheels.installable)
    app_files = " ".join(shlex.quote(f) for f in prepared.app_files)
    start = shlex.quote(prepared.start_command or "true")
    return "\n".join([
        "set -e",
        "export HOME=/tmp PYTHONDONTWRITEBYTECODE=1 PIP_DISABLE_PIP_VERSION_CHECK=1",
        f"/opt/venv/bin/python -m pip install -q --no-index --find-links /wheels/env {env_reqs}" if env_reqs else "",
        "python3 -m venv /tmp/tools",
        f"/tmp/tools/bin/python -m pip install -q --no-index --find-links /wheels/runner {tool_reqs}",
        "cp -r /submission /work && cd /work && mkdir -p /tmp/data /tmp/out",
        f"PORT={port} DATA_DIR=/tmp/data DATABASE_URL=sqlite:////tmp/data/app.db PATH=/opt/venv/bin:$PATH "
        f"sh -c {start} > /tmp/app.log 2>&1 &",
        "export PYTHONPATH=/grader/lib",
        f"/tmp/tools/bin/python -m checks.wait_for_app {url}{challenge.app.health_path} 60",
        f"(cd /tmp && /tmp/tools/bin/{shlex.join(hidden)}) || true",
        "PYTHONPATH= /opt/venv/bin/python -m coverage run --branch -m pytest -q -p no:cacheprovider || true",
        f"/tmp/tools/bin/mypy --config-file /grader/lib/checks/config/mypy.ini {shlex.join(MYPY_FLAGS)} "
        f"--cache-dir /tmp/mypy-cold {app_files} || true",
        "/tmp/tools/bin/ruff check --no-cache . || true",
        "/tmp/tools/bin/radon cc -a . > /dev/null && /tmp/tools/bin/radon mi . > /dev/null",
    ])


def naive_run(client: Any, prepared: Prepared, challenge: Challenge) -> float:
    """Wall seconds of one naive grading; raises if the script failed (the figure would be meaningless)."""
    volumes = {
        str(prepared.snapshot): {"bind": "/submission", "mode": "ro"},
        str(prepared.env_wheels.directory): {"bind": "/wheels/env", "mode": "ro"},
        str(prepared.runner_wheels.directory): {"bind": "/wheels/runner", "mode": "ro"},
        str(hidden_tests_dir(challenge)): {"bind": "/grader/tests", "mode": "ro"},
        str(checks_dir()): {"bind": "/grader/lib/checks", "mode": "ro"},
    }
    started = time.perf_counter()
    container = client.containers.run(
        images.base_image_tag(challenge.python), ["/bin/sh", "-c", naive_script(prepared, challenge)],
        detach=True, network_mode="none", user="0", volumes=volumes, labels={LABEL: "naive"},
    )
    try:
        status = container.wait(timeout=900)
        logs = container.logs().decode(errors="replace")
    finally:
        container.remove(force=True)
    elapsed = time.perf_counter() - started
    if status.get("StatusCode") != 0:
        raise RuntimeError(f"{prepared.name}: the naive baseline failed ({status}):\n{logs[-2000:]}")
    return elapsed
