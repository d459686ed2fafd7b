"""Submissions graded as their authors run them, end to end in Docker.

Each fixture breaks when graded the naive way (the newest version of everything, wheels only, the top
folder):
- `locked-bcrypt` locks bcrypt 4.2 in poetry.lock; the newest bcrypt (5) makes passlib 1.7.4 fail every hash;
- `pinned-bcrypt` pins only passlib; committed in June 2024, its bcrypt resolves to what existed then;
- `sdist-only` needs pypika 0.48.9, which PyPI ships only as a source archive: it is built in a container;
- `monorepo` keeps its Python project in `backend/` beside a `frontend/`, its README and CI at the top.
The hash challenge's hidden tests hash and verify a password through the app, so they pass only when the
environment is the author's.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from packaging.version import Version

from tests.conftest import REPO_ROOT

FIXTURES = REPO_ROOT / "tests" / "fixtures"
pytestmark = [pytest.mark.slow, pytest.mark.docker]


def git_repo_dated(source: Path, target: Path, date: str) -> Path:
    """A copy of `source` committed once, with both its dates set to `date`."""
    shutil.copytree(source, target)
    who = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.invalid"}
    env = {**os.environ, **who, "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "work"]):
        subprocess.run(["git", "-C", str(target), *command], env=env, check=True, capture_output=True)
    return target


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory, docker_client: Any) -> dict[str, dict[str, Any]]:
    work = tmp_path_factory.mktemp("fidelity")
    dated = git_repo_dated(FIXTURES / "submissions" / "pinned-bcrypt", work / "pinned-bcrypt",
                           "2024-06-01T12:00:00+00:00")
    sources = [FIXTURES / "submissions" / name for name in ("locked-bcrypt", "sdist-only", "monorepo")]
    sources.insert(1, dated)
    out = work / "out"
    argv = [sys.executable, "-m", "grader", "grade", *map(str, sources), "--challenge",
            str(FIXTURES / "hash-challenge"), "--sandbox", "docker", "--out", str(out), "-j", "2"]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=1800, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return {path.parent.name: json.loads(path.read_text()) for path in out.glob("*/result.json")}


def hidden_outcomes(result: dict[str, Any]) -> list[str]:
    return [t["outcome"] for c in result["checks"] if c["id"].startswith("hidden-tests/") for t in c["tests"]]


def package(result: dict[str, Any], name: str) -> dict[str, Any]:
    found = [p for p in result["submission"]["dependencies"]["packages"] if p["name"] == name]
    assert found, f"{name} is not in the environment"
    return found[0]


def test_a_poetry_lock_is_installed_as_locked(results: dict[str, dict[str, Any]]) -> None:
    result = results["locked-bcrypt"]
    assert hidden_outcomes(result) == ["passed", "passed"], result["app"]
    assert result["submission"]["dependencies"]["lock_file"] == "poetry.lock"
    assert package(result, "bcrypt") == {"name": "bcrypt", "version": "4.2.0", "origin": "lock", "group": "main",
                                         "built_from_source": False}
    assert package(result, "passlib")["origin"] == "lock"


def test_an_unlocked_project_resolves_as_of_its_commit(results: dict[str, dict[str, Any]]) -> None:
    result = results["pinned-bcrypt"]
    assert hidden_outcomes(result) == ["passed", "passed"], result["app"]
    dependencies = result["submission"]["dependencies"]
    assert (dependencies["as_of"], dependencies["as_of_source"]) == ("2024-06-01", "HEAD commit date")
    assert package(result, "passlib")["origin"] == "pin"
    bcrypt = package(result, "bcrypt")
    assert bcrypt["origin"] == "resolved" and Version(bcrypt["version"]) < Version("4.2")


def test_a_source_only_dependency_is_built_in_a_container(results: dict[str, dict[str, Any]]) -> None:
    result = results["sdist-only"]
    assert result["app"]["started"], result["app"]
    assert hidden_outcomes(result) == ["passed", "passed"]
    assert package(result, "pypika") == {"name": "pypika", "version": "0.48.9", "origin": "pin", "group": "main",
                                         "built_from_source": True}


def test_a_monorepo_runs_from_its_backend_with_repository_evidence_from_the_top(
    results: dict[str, dict[str, Any]],
) -> None:
    result = results["monorepo"]
    assert result["submission"]["project_root"] == "backend"
    assert result["submission"]["start_command_source"] == "procfile"
    assert hidden_outcomes(result) == ["passed", "passed"], result["app"]
    assert package(result, "six")["version"] == "1.16.0"
    practices = {k: v for c in result["checks"] if c["id"].startswith("practices/") for k, v in c["metrics"].items()}
    assert practices["has_ci_config"] == 1 and practices["has_readme_run_instructions"] == 1
    tests = next(c for c in result["checks"] if c["id"].startswith("candidate_tests/"))
    assert tests["metrics"]["tests_found"] == 2 and tests["metrics"]["pass_rate"] == 100
