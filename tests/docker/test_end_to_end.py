"""Grade every bundled hello-api solution end to end, through the CLI, on the Docker backend (the local
backend: tests/network/test_end_to_end.py).

Docker runs the real engine (in CI a missing engine fails these tests instead of skipping them). Each
result must validate against the published JSON Schema, references must pass every hidden test, and
flawed solutions must fail exactly the tests their challenge.toml lists.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from grader.sandbox.owner import TEST_RUN_LABEL
from tests.conftest import this_test_run
from tests.network.test_end_to_end import CHALLENGE, SOLUTIONS, assert_graded_as_expected, grade_all

pytestmark = pytest.mark.slow


def run_resources(kind: str) -> set[str]:
    """This test run's containers, volumes or networks: other gradings may run beside it on the engine."""
    listing = ["docker", "ps", "-a"] if kind == "container" else ["docker", kind, "ls"]
    proc = subprocess.run([*listing, "-q", "--filter", f"label={TEST_RUN_LABEL}={this_test_run()}"],
                          capture_output=True, text=True, check=True)
    return set(proc.stdout.split())


@pytest.fixture(scope="module")
def docker_results(tmp_path_factory: pytest.TempPathFactory, docker_client: Any) -> dict[str, dict[str, Any]]:
    kinds = ("container", "volume", "network")
    before = {kind: run_resources(kind) for kind in kinds}
    out = tmp_path_factory.mktemp("docker-results")
    proc = grade_all("docker", out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for kind in kinds:
        left = run_resources(kind) - before[kind]
        assert not left, f"{kind}s left behind: {left}"
    return {name: json.loads((out / name / "result.json").read_text()) for name in SOLUTIONS}


@pytest.mark.docker
def test_flawed_solution_loses_points_with_file_line_evidence(docker_results: dict[str, dict[str, Any]]) -> None:
    flawed = [name for name in SOLUTIONS if CHALLENGE.solutions[name].kind == "flawed"]
    references = [name for name in SOLUTIONS if CHALLENGE.solutions[name].kind == "reference"]
    for name in flawed:
        result = docker_results[name]
        assert result["overall"] < min(docker_results[r]["overall"] for r in references)
        evidence = [e for c in result["checks"] for d in c["deductions"] for e in d["evidence"]
                    if e["file"] and e["line"]]
        assert any(e["file"] == "main.py" for e in evidence), evidence
        rules = {d["rule"] for c in result["checks"] for d in c["deductions"]}
        assert {"practices.secrets_found", "lint.observability_findings", "typecheck.annotation_share"} <= rules
        assert set(CHALLENGE.solutions[name].expected_failures) <= rules


@pytest.mark.docker
@pytest.mark.parametrize("name", SOLUTIONS)
def test_docker_grades_solution(docker_results: dict[str, dict[str, Any]], name: str) -> None:
    result = docker_results[name]
    assert_graded_as_expected(result, name, "docker")
    assert result["sandbox"]["isolated"] is True
    assert result["sandbox"]["image"].startswith("grader-env:")
    assert result["sandbox"]["warnings"] == []


@pytest.mark.docker
def test_docker_leaves_no_container(docker_results: dict[str, dict[str, Any]]) -> None:
    """The fixture compared the grader's containers before and after grading every solution."""
    assert len(docker_results) == len(SOLUTIONS)


@pytest.mark.docker
def test_grading_twice_gives_identical_scores(docker_results: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    name = next(n for n in SOLUTIONS if CHALLENGE.solutions[n].kind == "flawed")
    argv = [sys.executable, "-m", "grader", "grade", str(Path(CHALLENGE.root) / "solutions" / name),
            "--challenge", "hello-api", "--sandbox", "docker", "--out", str(tmp_path)]
    subprocess.run(argv, capture_output=True, text=True, timeout=600, check=True)
    again = json.loads((tmp_path / name / "result.json").read_text())
    first = docker_results[name]
    assert again["overall"] == first["overall"]
    assert again["categories"] == first["categories"]
    assert [(c["id"], c["score"], c["max_score"]) for c in again["checks"]] == [
        (c["id"], c["score"], c["max_score"]) for c in first["checks"]]


@pytest.mark.docker
def test_same_requirements_share_one_environment(docker_results: dict[str, dict[str, Any]]) -> None:
    by_requirements: dict[tuple[str, ...], set[str]] = {}
    for result in docker_results.values():
        key = tuple(result["submission"]["requirements"])
        by_requirements.setdefault(key, set()).add(result["sandbox"]["environment_hash"])
    assert all(len(hashes) == 1 for hashes in by_requirements.values())


