"""Services for the local backend: servers the user already runs, named with `--service-url KIND=URL`.

PostgreSQL: the URL names a role that may create databases. Each grading gets a throwaway database
(`grader_<random>`) made from it and dropped afterwards, whatever happened, so nothing carries over.
Redis: the URL must name a database number (`redis://localhost:6379/15`) that the user gives to the grader:
it is emptied before and after each grading, as Redis has no throwaway databases.

This is a convenience for people who cannot run Docker, not an isolation boundary: the app gets the
role named in the URL.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from grader.sandbox.base import SandboxError
from grader.sandbox.services import SERVICE_KINDS, ServiceKind, ServiceRequest, describe, postgres_variables

CONNECT_TIMEOUT_S = 10


@dataclass
class ProvisionedServices:
    """The variables one grading's app and runner get for its services."""

    app_env: dict[str, str] = field(default_factory=dict)
    runner_env: dict[str, str] = field(default_factory=dict)


def parse_service_urls(values: tuple[str, ...] | list[str]) -> dict[ServiceKind, str]:
    """`KIND=URL` pairs from the command line; ValueError with one sentence when one is malformed."""
    urls: dict[ServiceKind, str] = {}
    for value in values:
        kind, sep, url = value.partition("=")
        known = next((k for k in SERVICE_KINDS if k == kind.strip().lower()), None)
        if not sep or known is None or not url:
            raise ValueError(f"--service-url {value!r}: use KIND=URL with KIND one of {', '.join(SERVICE_KINDS)}")
        _check_url(known, url)
        urls[known] = url
    return urls


def _check_url(kind: ServiceKind, url: str) -> None:
    parts = urlsplit(url)
    schemes = ("postgresql", "postgres") if kind == "postgres" else ("redis", "rediss")
    if parts.scheme not in schemes or not parts.hostname:
        raise ValueError(f"--service-url {kind}: {redact(url)} is not a {schemes[0]}:// URL with a host")
    if kind == "redis" and not parts.path.strip("/").isdigit():
        raise ValueError(
            "--service-url redis: name a database number the grader may empty, e.g. redis://localhost:6379/15"
        )


def redact(url: str) -> str:
    """The URL without its password, for logs and results."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username or ''}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


class LocalServices:
    """The servers the user named; checks they answer and gives each grading fresh, throwaway state."""

    def __init__(self, urls: Mapping[str, str]) -> None:
        self.urls = dict(urls)

    def describe(self, requests: tuple[ServiceRequest, ...]) -> dict[str, str]:
        """Where each requested service comes from; SandboxError naming the way out when one is missing."""
        missing = [request for request in requests if request.kind not in self.urls]
        if missing:
            first = missing[0].kind
            example = "postgresql://user:password@localhost:5432/postgres" if first == "postgres" \
                else "redis://localhost:6379/15"
            raise SandboxError(
                f"this challenge needs {describe(tuple(missing))}: grade it with the Docker backend, or point the "
                f"local backend at a server you run with --service-url {first}={example}"
            )
        return {request.kind: redact(self.urls[request.kind]) for request in requests}

    @contextlib.contextmanager
    def provision(self, requests: tuple[ServiceRequest, ...]) -> Iterator[ProvisionedServices]:
        """Fresh state for one grading: a throwaway PostgreSQL database, an emptied Redis database."""
        provisioned = ProvisionedServices()
        with contextlib.ExitStack() as stack:
            for request in requests:
                url = self.urls[request.kind]
                if request.kind == "postgres":
                    database_url = stack.enter_context(_throwaway_database(url))
                    provisioned.app_env.update(postgres_variables(database_url))
                    provisioned.runner_env["GRADER_DATABASE_URL"] = database_url
                else:
                    stack.enter_context(_emptied_redis(url))
                    provisioned.app_env["REDIS_URL"] = url
                    provisioned.runner_env["GRADER_REDIS_URL"] = url
            yield provisioned


@contextlib.contextmanager
def _throwaway_database(server_url: str) -> Iterator[str]:
    """Create `grader_<random>` on the server, yield its URL, drop it (and its connections) afterwards."""
    import psycopg
    from psycopg import sql

    name = f"grader_{secrets.token_hex(6)}"
    try:
        with psycopg.connect(server_url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S) as admin:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.Error as exc:
        raise SandboxError(
            f"could not create a throwaway database on {redact(server_url)} "
            f"({str(exc).strip().splitlines()[0]}): the URL's role needs CREATEDB"
        ) from None
    try:
        yield urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))
    finally:
        with contextlib.suppress(psycopg.Error), psycopg.connect(
            server_url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S
        ) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@contextlib.contextmanager
def _emptied_redis(url: str) -> Iterator[None]:
    """Empty the user's chosen Redis database before and after the grading."""
    import redis

    try:
        with redis.Redis.from_url(url, socket_timeout=CONNECT_TIMEOUT_S) as store:
            store.flushdb()
    except redis.RedisError as exc:
        raise SandboxError(f"could not empty the Redis database {redact(url)} ({exc})") from None
    try:
        yield
    finally:
        with contextlib.suppress(redis.RedisError), \
                redis.Redis.from_url(url, socket_timeout=CONNECT_TIMEOUT_S) as store:
            store.flushdb()
