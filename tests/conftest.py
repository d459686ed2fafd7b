"""Shared fixtures for the grader's own tests.

Docker tests use the real engine. Where no engine answers they skip locally, but in CI (`CI=true`) a
Docker test that would skip fails instead, so a green CI run proves the Docker path.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def skip_or_fail(reason: str) -> None:
    """Skip locally; fail in CI, where every Docker test must really run."""
    if IN_CI:
        pytest.fail(f"CI requires this test to run: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def docker_client() -> Iterator[object]:
    """A Docker SDK client to a live engine."""
    try:
        import docker

        client = docker.from_env(timeout=30)
        client.ping()
    except Exception as exc:
        skip_or_fail(f"no Docker engine answers: {exc}")
    yield client
    client.close()


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep each session's grader cache away from the user's: one shared cache per test session."""
    if "GRADER_CACHE_DIR" not in os.environ:
        root = tmp_path_factory.getbasetemp() / "grader-cache"
        monkeypatch.setenv("GRADER_CACHE_DIR", str(root))


# --- nothing of the grader's is left in the engine after the suite ---------------------------------------

_ENGINE_BEFORE = pytest.StashKey[set[str]]()


def _grader_resources() -> set[str] | None:
    """Names of the grader's containers, volumes and networks in the engine, or None without an engine."""
    try:
        import docker

        client = docker.from_env(timeout=30)
        containers = {f"container {c.name}" for c in client.containers.list(
            all=True, filters={"label": "grader.managed"})}
        volumes = {f"volume {v.name}" for v in client.volumes.list() if v.name.startswith("grader-")}
        networks = {f"network {n.name}" for n in client.networks.list() if n.name.startswith("grader")}
        client.close()
    except Exception:
        return None
    return containers | volumes | networks


def pytest_sessionstart(session: pytest.Session) -> None:
    before = _grader_resources()
    if before is not None:
        session.stash[_ENGINE_BEFORE] = before


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run when the suite left containers (apps, runners, services), volumes or networks behind."""
    if _ENGINE_BEFORE not in session.stash or getattr(session.config, "workerinput", None) is not None:
        return
    after = _grader_resources() or set()
    left = sorted(after - session.stash[_ENGINE_BEFORE])
    if left:
        print(f"\nthe test suite left {len(left)} grader resource(s) in the engine: {', '.join(left)}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
