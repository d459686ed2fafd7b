"""The local backend with servers already on the machine (`--service-url`): a throwaway database per
grading, an emptied Redis database, and one clear sentence when a service is not named.

The servers are Debian's postgresql and redis-server (scripts/test.sh installs them), started privately
on free ports for this module and stopped afterwards.
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
from typing import Any

import psycopg
import pytest
import redis

from grader.challenge import load_challenge
from grader.pipeline import grade_submission
from grader.sandbox.base import SandboxError
from grader.sandbox.local import LocalSandbox
from grader.sandbox.local_services import LocalServices, parse_service_urls, redact
from grader.sandbox.services import ServiceRequest

from ...conftest import REPO_ROOT, skip_or_fail

CHALLENGE = load_challenge(str(REPO_ROOT / "tests" / "fixtures" / "services-challenge"))
SUBMISSION = REPO_ROOT / "tests" / "fixtures" / "submissions" / "notes-redis"
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


@pytest.fixture(scope="module")
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


@pytest.fixture(scope="module")
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


def grader_databases(server_url: str) -> set[str]:
    with psycopg.connect(server_url, autocommit=True) as connection:
        return {name for (name,) in connection.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE 'grader_%'").fetchall()}


@pytest.mark.slow
def test_local_backend_grades_with_a_throwaway_database_and_an_emptied_redis(
    local_postgres: str, local_redis: str, tmp_path: Path
) -> None:
    with redis.Redis.from_url(local_redis) as store:
        store.set("left-by-someone", "1")  # the database the user gave the grader is emptied
    sandbox = LocalSandbox(service_urls={"postgres": local_postgres, "redis": local_redis})
    result = grade_submission(SUBMISSION, CHALLENGE, sandbox, tmp_path, log=lambda _: None, force=True)

    assert result.status == "graded", result.error
    tests = {t.name: t for c in result.checks if c.id.startswith("hidden-tests/") for t in c.tests}
    failed = {name: t.message for name, t in tests.items() if t.outcome != "passed"}
    assert failed.keys() == {"test_fails_on_purpose"}, failed
    assert result.sandbox is not None
    assert result.sandbox.services["postgres"] == redact(local_postgres)
    assert APP_PASSWORD not in result.model_dump_json()
    assert grader_databases(local_postgres) == set(), "the throwaway database was not dropped"
    with redis.Redis.from_url(local_redis) as store:
        assert store.dbsize() == 0


def test_a_missing_service_url_is_one_sentence_naming_the_way_out() -> None:
    with pytest.raises(SandboxError) as caught:
        LocalServices({}).describe((ServiceRequest("postgres", "15"),))
    message = str(caught.value)
    assert "needs postgres 15" in message
    assert "--service-url postgres=postgresql://" in message
    assert "Docker" in message


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("mysql=mysql://localhost/x", "KIND one of postgres, redis"),
        ("postgres", "KIND=URL"),
        ("postgres=http://localhost:5432/x", "not a postgresql:// URL"),
        ("redis=redis://localhost:6379", "name a database number"),
    ],
)
def test_malformed_service_urls_are_refused(value: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_service_urls([value])


def test_passwords_never_reach_a_result() -> None:
    assert redact("postgresql://app:s3cret@db:5432/postgres") == "postgresql://app:***@db:5432/postgres"
    assert parse_service_urls(["redis=redis://:pw@localhost:6379/3"]) == {"redis": "redis://:pw@localhost:6379/3"}


def test_the_cli_says_what_a_local_grading_of_a_services_challenge_needs(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from grader.cli import main

    outcome: Any = CliRunner().invoke(main, [
        "grade", str(SUBMISSION), "--challenge", str(REPO_ROOT / "tests" / "fixtures" / "services-challenge"),
        "--sandbox", "local", "--out", str(tmp_path), "--format", "json",
    ])
    assert outcome.exit_code != 0
    assert "needs postgres 15, redis 7" in outcome.output
    assert "Traceback" not in outcome.output
