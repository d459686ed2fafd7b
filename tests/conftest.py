"""Shared fixtures for the grader's own tests.

Docker tests use the real engine. Where no engine answers they skip locally, but in CI (`CI=true`) a
Docker test that would skip fails instead, so a green CI run proves the Docker path.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from glob import glob
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


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Keep each session's grader cache away from the user's: one shared cache per test session.

    Session-scoped, so it is in place before any module- or session-scoped fixture grades something (a
    function-scoped one would come too late for those, and their gradings would use the user's cache)."""
    if "GRADER_CACHE_DIR" in os.environ:
        yield
        return
    os.environ["GRADER_CACHE_DIR"] = str(tmp_path_factory.getbasetemp() / "grader-cache")
    try:
        yield
    finally:
        os.environ.pop("GRADER_CACHE_DIR", None)


# --- servers "already on the machine", for the local backend's --service-url ----------------------------

APP_PASSWORD = "local-app-password"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on {port}")


@pytest.fixture(scope="session")
def local_postgres() -> Iterator[str]:
    """A private PostgreSQL cluster, run as the `postgres` user; yields an `app` role's URL (CREATEDB only)."""
    initdb = sorted(glob("/usr/lib/postgresql/*/bin/initdb"))
    if not initdb or os.geteuid() != 0 or shutil.which("runuser") is None:
        skip_or_fail("needs root and Debian's postgresql package (scripts/test.sh installs it)")
    bindir = Path(initdb[-1]).parent
    # Not under pytest's base temp dir: that one is private to root, and the server runs as `postgres`.
    home = Path(tempfile.mkdtemp(prefix="grader-test-pg-"))
    shutil.chown(home, "postgres", "postgres")
    data = home / "data"
    as_postgres = ["runuser", "-u", "postgres", "--"]
    subprocess.run([*as_postgres, str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                    "--no-sync"], check=True, capture_output=True)
    port = free_port()
    server = subprocess.Popen(
        [*as_postgres, str(bindir / "postgres"), "-D", str(data), "-p", str(port), "-k", str(data),
         "-c", "listen_addresses=127.0.0.1", "-c", "shared_preload_libraries=pg_stat_statements"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        import psycopg

        wait_for_port(port, server, "postgres")
        time.sleep(0.5)  # listening comes just before accepting
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/template1", autocommit=True) as admin:
            admin.execute(f"CREATE ROLE app LOGIN CREATEDB PASSWORD '{APP_PASSWORD}'")
            admin.execute("GRANT pg_read_all_stats TO app")
            # What a user's own server might have: every new database gets the statistics extension.
            admin.execute("CREATE EXTENSION pg_stat_statements")
            admin.execute("GRANT EXECUTE ON FUNCTION pg_stat_statements_reset(oid, oid, bigint) TO app")
        yield f"postgresql://app:{APP_PASSWORD}@127.0.0.1:{port}/postgres"
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def local_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private redis-server; yields the URL of its database 15."""
    binary = shutil.which("redis-server")
    if binary is None:
        skip_or_fail("needs Debian's redis-server package (scripts/test.sh installs it)")
    assert binary is not None
    port = free_port()
    directory = tmp_path_factory.mktemp("redis")
    server = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                               "--dir", str(directory)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, server, "redis-server")
        yield f"redis://127.0.0.1:{port}/15"
    finally:
        server.terminate()
        server.wait(timeout=30)


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
