"""Shared fixtures for the grader's own tests, and the rules of their layout.

Tests are grouped by what they need, one folder each (docs/architecture.md, "Tests"): `unit` (no engine, no
package index), `network` (the package index, no engine), `docker` (the engine), `browser` (Chromium) and
`adversarial` (the hostile corpus). Collection fails on a test outside every group, or on a unit test that
is slow or asks for the engine, Chromium or local servers.

Docker tests use the real engine. Where no engine answers they skip locally, but in CI (`CI=true`) a
Docker test that would skip fails instead, so a green CI run proves the Docker path.

Each session names itself in `$GRADER_TEST_RUN` (the gradings it starts, in this process or as
subprocesses, label what they create with it) and, at its end, fails on what its own run left in the
engine; other gradings on the same engine are none of its business.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator
from glob import glob
from pathlib import Path
from typing import Any

import pytest

from grader.sandbox.owner import TEST_RUN_LABEL, TEST_RUN_VAR

REPO_ROOT = Path(__file__).resolve().parent.parent
TESTS_DIR = REPO_ROOT / "tests"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
GROUPS = ("unit", "network", "docker", "browser", "adversarial")
# Fixtures that need more than the unit group has, and the group whose tests may ask for them.
HEAVY_FIXTURES = {"docker_client": "docker", "chromium": "browser", "graded_dir": "browser",
                  "local_postgres": "network", "local_redis": "network"}
# Evidence a reviewer opens after a run (the browser tests' screenshots and PDFs): kept in the checkout, which
# .gitignore leaves out, unless this variable names another folder.
ARTIFACTS_ENV = "GRADER_TEST_ARTIFACTS"


def artifacts_dir() -> Path:
    """Where tests keep their artifacts: $GRADER_TEST_ARTIFACTS, else `test-artifacts/` in the checkout.

    Not pytest's temp directory: it is removed three runs later, and CI leaves it on the machine it ran on.
    """
    explicit = os.environ.get(ARTIFACTS_ENV)
    return Path(explicit) if explicit else REPO_ROOT / "test-artifacts"


# --- the layout: every test in a group folder, no heavy need in the unit group ------------------------------


def misplaced(path: Path, markers: Iterable[str], fixtures: Iterable[str]) -> str | None:
    """Why the test at `path` (with these markers and fixtures) is in the wrong folder, or None."""
    try:
        relative = path.resolve().relative_to(TESTS_DIR)
    except ValueError:
        return None  # not one of ours (pytest run on another directory)
    group = relative.parts[0] if len(relative.parts) > 1 else ""
    if group not in GROUPS:
        return f"tests/{relative.as_posix()} is in no test group: move it under tests/<{'|'.join(GROUPS)}>/"
    if group != "unit":
        return None
    needs = {HEAVY_FIXTURES[name] for name in fixtures if name in HEAVY_FIXTURES}
    if "docker" in markers:
        needs.add("docker")
    elif "slow" in markers:  # a whole grading: it resolves against the package index
        needs.add("network")
    if needs:
        return f"tests/{relative.as_posix()} needs more than the unit group has: move it under tests/{min(needs)}/"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Refuse a misplaced test (docs/architecture.md, "Tests"), and mark the docker group `docker`."""
    problems = set()
    for item in items:
        markers = {mark.name for mark in item.iter_markers()}
        problem = misplaced(item.path, markers, getattr(item, "fixturenames", ()))
        if problem:
            problems.add(problem)
        if "docker" not in markers and _group_of(item.path) == "docker":
            item.add_marker(pytest.mark.docker)
    if problems:
        raise pytest.UsageError("\n".join(sorted(problems)))


def _group_of(path: Path) -> str:
    """The group folder a test file is in ("" outside tests/)."""
    try:
        return path.resolve().relative_to(TESTS_DIR).parts[0]
    except ValueError:
        return ""


# --- one id per test session, on everything its gradings create --------------------------------------------

_RUN_SET_HERE = pytest.StashKey[bool]()


def pytest_configure(config: pytest.Config) -> None:
    """Name this session in $GRADER_TEST_RUN before anything grades: in this process and, through the
    environment, in every `python -m grader` it starts. A run id given from outside is kept."""
    if not os.environ.get(TEST_RUN_VAR, "").strip():
        os.environ[TEST_RUN_VAR] = f"pytest-{uuid.uuid4().hex[:12]}"
        config.stash[_RUN_SET_HERE] = True
    hear_ctrl_c()


def hear_ctrl_c() -> None:
    """Let the Ctrl-C tests deliver SIGINT even to a session started in the background: a non-interactive
    shell starts background jobs with SIGINT ignored, children inherit that, and Python then neither raises
    KeyboardInterrupt nor lets `_thread.interrupt_main` do anything. A handler (not SIG_IGN) here makes every
    `python -m grader` the tests start get the default again."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_unconfigure(config: pytest.Config) -> None:
    if config.stash.get(_RUN_SET_HERE, False):
        os.environ.pop(TEST_RUN_VAR, None)


def this_test_run() -> str:
    """The id this session's gradings label their containers and volumes with."""
    return os.environ[TEST_RUN_VAR]


def of_this_run(*labels: str) -> dict[str, list[str]]:
    """Docker list filters for this session's resources that also carry every one of `labels`."""
    return {"label": [f"{TEST_RUN_LABEL}={this_test_run()}", *labels]}


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


SERVER_DEADLINE_S = 120  # a server starts in about a second; the deadline only bounds a hang on a loaded machine


def wait_for_port(port: int, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + SERVER_DEADLINE_S
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
        with _connect_when_ready(psycopg, f"postgresql://postgres@127.0.0.1:{port}/template1") as admin:
            admin.execute(f"CREATE ROLE app LOGIN CREATEDB PASSWORD '{APP_PASSWORD}'")
            admin.execute("GRANT pg_read_all_stats TO app")
            # What a user's own server might have: every new database gets the statistics extension.
            admin.execute("CREATE EXTENSION pg_stat_statements")
            admin.execute("GRANT EXECUTE ON FUNCTION pg_stat_statements_reset(oid, oid, bigint) TO app")
        yield f"postgresql://app:{APP_PASSWORD}@127.0.0.1:{port}/postgres"
    finally:
        _stop(server)
        shutil.rmtree(home, ignore_errors=True)


def _connect_when_ready(psycopg: Any, url: str) -> Any:
    """A connection as soon as the server accepts one: it listens a moment before it accepts."""
    deadline = time.monotonic() + SERVER_DEADLINE_S
    while True:
        try:
            return psycopg.connect(url, autocommit=True)
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _stop(server: subprocess.Popen[bytes]) -> None:
    """Terminate a server, and kill it when it does not stop within the (generous) deadline."""
    server.terminate()
    try:
        server.wait(timeout=SERVER_DEADLINE_S)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


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
        _stop(server)


# --- nothing this session's gradings made is left in the engine after it ----------------------------------


def engine_leftovers(client: Any, run: str) -> list[str]:
    """The containers, volumes and networks in the engine labelled with test run `run`."""
    label = {"label": f"{TEST_RUN_LABEL}={run}"}
    containers = [f"container {c.name}" for c in client.containers.list(all=True, filters=label)]
    volumes = [f"volume {v.name}" for v in client.volumes.list(filters=label)]
    networks = [f"network {n.name}" for n in client.networks.list(filters=label)]
    return sorted(containers + volumes + networks)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run when its gradings left containers (apps, runners, services), volumes or networks behind.

    Only this run's resources count: another grading (or test session) on the same engine never fails it."""
    if getattr(session.config, "workerinput", None) is not None or not os.environ.get(TEST_RUN_VAR):
        return
    try:
        import docker

        client = docker.from_env(timeout=30)
        left = engine_leftovers(client, this_test_run())
        client.close()
    except Exception:
        return  # no engine: nothing can be left in it
    if left:
        print(f"\nthis test run ({this_test_run()}) left {len(left)} grader resource(s) in the engine: "
              f"{', '.join(left)}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
