"""Grade every bundled hello-api solution end to end, through the CLI, on the local backend (the package
index is needed). The same on the Docker backend: tests/docker/test_end_to_end.py.

Each result must validate against the published JSON Schema, references must pass every hidden test, and
flawed solutions must fail exactly the tests their challenge.toml lists.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from grader.challenge import load_challenge
from grader.checks.registry import STATIC_CHECKS
from grader.models import DEFAULT_WEIGHTS, Challenge
from tests.conftest import REPO_ROOT

SCHEMA = json.loads((REPO_ROOT / "grader" / "schema" / "result.schema.json").read_text())
CHALLENGE: Challenge = load_challenge("hello-api")
SOLUTIONS = sorted(CHALLENGE.solutions)
pytestmark = pytest.mark.slow


def grade_all(backend: str, out: Path) -> subprocess.CompletedProcess[str]:
    sources = [str(Path(CHALLENGE.root) / "solutions" / name) for name in SOLUTIONS]
    argv = [sys.executable, "-m", "grader", "grade", *sources, "--challenge", "hello-api",
            "--sandbox", backend, "--out", str(out)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=1500, check=False, env=dict(os.environ))


@pytest.fixture(scope="module")
def local_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    out = tmp_path_factory.mktemp("local-results")
    proc = grade_all("local", out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "not an isolation boundary" in proc.stderr
    return {name: json.loads((out / name / "result.json").read_text()) for name in SOLUTIONS}


def failed_hidden_tests(result: dict[str, Any]) -> set[str]:
    return {
        test["name"]
        for check in result["checks"] if check["id"].startswith("hidden-tests/")
        for test in check["tests"] if test["outcome"] in ("failed", "error")
    }


def hidden_test_count(result: dict[str, Any]) -> int:
    return sum(len(c["tests"]) for c in result["checks"] if c["id"].startswith("hidden-tests/"))


def assert_graded_as_expected(result: dict[str, Any], name: str, backend: str) -> None:
    jsonschema.validate(result, SCHEMA)
    expectation = CHALLENGE.solutions[name]
    assert result["status"] == "graded", result.get("error")
    assert result["sandbox"]["backend"] == backend
    assert result["submission"]["framework"] == expectation.framework
    assert result["app"]["started"], result["app"]
    assert hidden_test_count(result) >= 10
    assert failed_hidden_tests(result) == set(expectation.expected_failures)
    assert [(c["id"], c["weight"]) for c in result["categories"]] == list(DEFAULT_WEIGHTS.items())
    assert all(c["evaluated"] for c in result["categories"]), result["categories"]
    static: dict[str, list[dict[str, Any]]] = {}
    for check in result["checks"]:
        if not check["id"].startswith("hidden-tests/"):
            static.setdefault(check["id"].split("/")[0], []).append(check)
    assert set(static) == set(STATIC_CHECKS)
    for check_id, checks in static.items():
        # a category whose only rules are practices hello-api does not ask for is skipped, never an error
        assert all(c["status"] in ("passed", "failed", "skipped") for c in checks), checks
        scored = [c for c in checks if c["status"] in ("passed", "failed")]
        assert scored and all(c["metrics"] and c["duration_s"] is not None for c in scored), check_id
    assert 3 <= len(result["review"]["questions"]) <= 5


@pytest.mark.parametrize("name", SOLUTIONS)
def test_local_grades_solution(local_results: dict[str, dict[str, Any]], name: str) -> None:
    result = local_results[name]
    assert_graded_as_expected(result, name, "local")
    assert result["sandbox"]["isolated"] is False
    assert any("not an isolation boundary" in w for w in result["sandbox"]["warnings"])
