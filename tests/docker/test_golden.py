"""What the grader says about the bundled hello-api solutions, pinned: a refactoring must not change it.

Every hello-api solution and the starter are graded in Docker with a fixed resolution date, and each
`result.json` is compared with `tests/golden/hello-api/<name>.json` after dropping what legitimately varies
from run to run (timings, dates, image ids, log text, the grader's version). A change that is meant to move
scores regenerates the files and shows the difference in review:

    GRADER_UPDATE_GOLDEN=1 python -m pytest tests/docker/test_golden.py
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from typing import Any

import pytest

from tests.conftest import REPO_ROOT

pytestmark = [pytest.mark.slow, pytest.mark.docker]
GOLDEN = REPO_ROOT / "tests" / "golden" / "hello-api"
SOLUTIONS = REPO_ROOT / "challenges" / "hello-api" / "solutions"
AS_OF = "2026-12-01"  # versions the candidates did not lock resolve as of this day, whenever the test runs
UPDATE = os.environ.get("GRADER_UPDATE_GOLDEN") == "1"
# Fields that vary between runs of the same grader on the same input.
VOLATILE = {"graded_at", "timings", "grader_version", "duration_s", "start_seconds", "tests_seconds",
            "image", "image_id", "base_image", "environment_hash", "environment_reused", "log_tail",
            "log_truncated", "source", "content_hash", "services"}


RANDOM_IDS = re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}")  # tests' uuid4s


def stable(value: Any) -> Any:
    """`value` without the volatile fields, at any depth; random ids in the hidden tests' messages masked."""
    if isinstance(value, dict):
        return {key: stable(item) for key, item in sorted(value.items()) if key not in VOLATILE}
    if isinstance(value, list):
        return [stable(item) for item in value]
    if isinstance(value, str):
        return RANDOM_IDS.sub("<id>", value)
    return value


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory, docker_client: object) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("golden")
    sources = [*sorted(str(path) for path in SOLUTIONS.iterdir() if path.is_dir()),
               str(REPO_ROOT / "challenges" / "hello-api" / "starter")]
    argv = [sys.executable, "-m", "grader", "grade", *sources, "--challenge", "hello-api", "--sandbox", "docker",
            "--out", str(out), "--format", "json", "--resolve-as-of", AS_OF, "-j", "2"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=2400, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return {path.parent.name: stable(json.loads(path.read_text())) for path in sorted(out.glob("*/result.json"))}


@pytest.mark.parametrize("name", ["django-ref", "fastapi-flawed", "fastapi-ref", "flask-ref", "starter"])
def test_the_result_is_what_it_was(results: dict[str, Any], name: str) -> None:
    golden = GOLDEN / f"{name}.json"
    if UPDATE:
        GOLDEN.mkdir(parents=True, exist_ok=True)
        golden.write_text(json.dumps(results[name], indent=1, sort_keys=True) + "\n")
    assert golden.is_file(), f"no golden file for {name}: run with GRADER_UPDATE_GOLDEN=1"
    expected = json.loads(golden.read_text())
    assert results[name]["overall"] == expected["overall"]
    assert results[name]["categories"] == expected["categories"]
    assert results[name] == expected
