"""Database services beside the app: PostgreSQL and Redis, started fresh for each grading.

A challenge declares what it needs (`[services.postgres] version = "15"` in challenge.toml); the submission
never decides. Each kind is described once here: how to start it as an unprivileged process with no
lasting state, when it is ready, and which variables the app (and, separately, the grader's runner) gets.

Credentials are made per run. The app gets an ordinary role that owns an empty database and may create
databases (CREATEDB: Django's `manage.py test` and pytest-django make a `test_<name>` database beside the
app's; the server is fresh and thrown away after the grading, so the right reaches nothing else); the runner gets
the superuser (`grader`) so hidden tests can read the catalog and `pg_stat_statements` from the grader's
side. The app never sees the superuser's password: it is only in the service's and the runner's
environment, and containers cannot read each other's environment.

Images: with a registry, the official `postgres:<version>` / `redis:<version>` images; without one
(`grader sandbox bootstrap --offline --service ...`), images made from Debian's own packages by debootstrap.
The start scripts below work in both: they find the binaries on PATH or in Debian's versioned directory.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

ServiceKind = Literal["postgres", "redis"]
SERVICE_KINDS: tuple[ServiceKind, ...] = ("postgres", "redis")
READY_LINE = "grader-service: ready"
SERVICE_HOST = "127.0.0.1"
ADMIN_USER = "grader"
APP_USER = "app"
APP_DATABASE = "app"
PG_MAX_CONNECTIONS = 50
ADMIN_URL_ENV = {"postgres": "GRADER_DATABASE_URL", "redis": "GRADER_REDIS_URL"}
# What the start script reads from its own environment (never the app's).
PASSWORD_ENV = "GRADER_SERVICE_PASSWORD"
ADMIN_PASSWORD_ENV = "GRADER_SERVICE_ADMIN_PASSWORD"
MEMORY_ENV = "GRADER_SERVICE_MEMORY_MB"
# Where a service keeps its data: a size-capped tmpfs, so nothing outlives the container (service.Dockerfile
# makes the mount point; the PostgreSQL script puts its cluster under it).
DATA_DIR = "/var/lib/grader"


@dataclass(frozen=True)
class ServiceKindInfo:
    """What the grader knows about one kind of service."""

    kind: ServiceKind
    port: int
    official_image: str  # with `{version}`: the registry path
    debian_version: str  # the major version Debian's packages give the offline path
    debian_packages: tuple[str, ...]
    start_script: str


_POSTGRES_START = r"""
set -eu
bindir=$(dirname "$(command -v initdb 2>/dev/null || ls -d /usr/lib/postgresql/*/bin/initdb | tail -n 1)")
export PGDATA=__DATA_DIR__/pgdata
umask 077
printf '%s\n' "$GRADER_SERVICE_ADMIN_PASSWORD" > /tmp/admin-password
"$bindir/initdb" --username=grader --pwfile=/tmp/admin-password --auth=scram-sha-256 --encoding=UTF8 \
  --locale=C --no-sync >/tmp/initdb.log 2>&1 || { cat /tmp/initdb.log; exit 1; }
rm -f /tmp/admin-password
settings="-c shared_buffers=32MB -c max_connections=__MAX_CONNECTIONS__ -c fsync=off \
  -c synchronous_commit=off -c full_page_writes=off -c unix_socket_directories=/tmp \
  -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all"
# First on the socket only, to create the app's role and database; then on loopback for everyone.
"$bindir/postgres" $settings -c listen_addresses='' &
export PGPASSWORD="$GRADER_SERVICE_ADMIN_PASSWORD"
until "$bindir/pg_isready" -q -h /tmp -U grader; do sleep 0.1; done
"$bindir/psql" -q -v ON_ERROR_STOP=1 -h /tmp -U grader -d postgres \
  -v app_password="$GRADER_SERVICE_PASSWORD" <<'SQL'
CREATE ROLE app LOGIN CREATEDB PASSWORD :'app_password';
CREATE DATABASE app OWNER app;
\connect app
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
SQL
"$bindir/pg_ctl" stop -D "$PGDATA" -m fast -w >/dev/null
"$bindir/postgres" $settings -c listen_addresses=127.0.0.1 &
until "$bindir/pg_isready" -q -h 127.0.0.1 -U grader -d app; do sleep 0.1; done
echo "__READY__"
wait
""".replace("__MAX_CONNECTIONS__", str(PG_MAX_CONNECTIONS)).replace("__DATA_DIR__", DATA_DIR)

_REDIS_START = r"""
set -eu
server=$(command -v redis-server)
cli=$(command -v redis-cli)
"$server" --bind 127.0.0.1 --port 6379 --protected-mode no --save '' --appendonly no --dir /tmp \
  --requirepass "$GRADER_SERVICE_PASSWORD" --maxmemory "$((GRADER_SERVICE_MEMORY_MB / 2))mb" &
until REDISCLI_AUTH="$GRADER_SERVICE_PASSWORD" "$cli" -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; do
  sleep 0.1
done
echo "__READY__"
wait
"""

KINDS: Mapping[ServiceKind, ServiceKindInfo] = {
    "postgres": ServiceKindInfo(
        kind="postgres", port=5432, official_image="postgres:{version}", debian_version="15",
        debian_packages=("postgresql-15",), start_script=_POSTGRES_START.replace("__READY__", READY_LINE),
    ),
    "redis": ServiceKindInfo(
        kind="redis", port=6379, official_image="redis:{version}", debian_version="7",
        debian_packages=("redis-server",), start_script=_REDIS_START.replace("__READY__", READY_LINE),
    ),
}


@dataclass(frozen=True)
class ServiceRequest:
    """One service a grading needs: its kind and the major version the challenge asked for."""

    kind: ServiceKind
    version: str


@dataclass(frozen=True)
class ServiceCredentials:
    """One service's per-run secrets: the app's password and the grader's (superuser) password."""

    password: str
    admin_password: str

    @staticmethod
    def new() -> ServiceCredentials:
        return ServiceCredentials(password=secrets.token_hex(16), admin_password=secrets.token_hex(16))


def start_command(kind: ServiceKind) -> list[str]:
    """The shell command a service container runs: start, set up, print the ready line, stay up."""
    return ["/bin/sh", "-c", KINDS[kind].start_script]


def service_environment(kind: ServiceKind, credentials: ServiceCredentials, memory_mb: int) -> dict[str, str]:
    """The service container's own environment (the start script reads its secrets from here)."""
    return {PASSWORD_ENV: credentials.password, ADMIN_PASSWORD_ENV: credentials.admin_password,
            MEMORY_ENV: str(memory_mb), "HOME": "/tmp", "LANG": "C.UTF-8"}


def app_variables(kind: ServiceKind, credentials: ServiceCredentials, host: str = SERVICE_HOST,
                  port: int | None = None, database: str = APP_DATABASE, user: str = APP_USER) -> dict[str, str]:
    """The variables the app gets for one service: the usual names frameworks and libraries read."""
    port = port or KINDS[kind].port
    if kind == "redis":
        return {"REDIS_URL": f"redis://:{credentials.password}@{host}:{port}/0"}
    return postgres_variables(f"postgresql://{user}:{credentials.password}@{host}:{port}/{database}")


def postgres_variables(database_url: str) -> dict[str, str]:
    """`DATABASE_URL` and the `POSTGRES_*` / libpq `PG*` families it implies, for one PostgreSQL database."""
    parts = urlsplit(database_url)
    host, port = parts.hostname or "localhost", str(parts.port or KINDS["postgres"].port)
    user, password, database = parts.username or "", parts.password or "", parts.path.lstrip("/")
    return {
        "DATABASE_URL": database_url,
        "POSTGRES_HOST": host, "POSTGRES_PORT": port, "POSTGRES_USER": user, "POSTGRES_PASSWORD": password,
        "POSTGRES_DB": database,
        "PGHOST": host, "PGPORT": port, "PGUSER": user, "PGPASSWORD": password, "PGDATABASE": database,
    }


def runner_variables(kind: ServiceKind, credentials: ServiceCredentials, host: str = SERVICE_HOST,
                     port: int | None = None, database: str = APP_DATABASE) -> dict[str, str]:
    """The grader-side access the runner gets: the superuser on the app's database, or the Redis URL."""
    port = port or KINDS[kind].port
    if kind == "redis":
        return {ADMIN_URL_ENV["redis"]: f"redis://:{credentials.password}@{host}:{port}/0"}
    return {ADMIN_URL_ENV["postgres"]:
            f"postgresql://{ADMIN_USER}:{credentials.admin_password}@{host}:{port}/{database}"}


def image_tag(request: ServiceRequest) -> str:
    """The grader's name for a service image: `grader-service-postgres:15`."""
    return f"grader-service-{request.kind}:{request.version}"


def describe(requests: tuple[ServiceRequest, ...]) -> str:
    """`postgres 15, redis 7`, for logs and reports."""
    return ", ".join(f"{request.kind} {request.version}" for request in requests)
