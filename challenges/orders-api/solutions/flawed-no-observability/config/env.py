"""Reading configuration from the environment: the only place settings come from."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

SQLITE_PREFIX = "sqlite:///"
SQLITE_LOCK_TIMEOUT_S = 20
POSTGRESQL_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg")
POSTGRESQL_CONNECT_TIMEOUT_S = 10
CONNECTION_MAX_AGE_S = 60  # each gunicorn thread keeps its connection for a minute: at most 8 open


def positive_int(name: str, default: int, environ: Mapping[str, str] = os.environ) -> int:
    """An integer >= 1 from the environment, `default` when the variable is unset or empty."""
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from None
    if value < 1:
        raise ImproperlyConfigured(f"{name} must be at least 1, got {value}")
    return value


def sqlite_database(url: str) -> dict[str, Any]:
    """Django's DATABASES entry for a `sqlite:///relative.db`, `sqlite:////abs/path.db` or `sqlite:///:memory:` URL.

    Writers queue on the database lock instead of failing: every transaction starts with
    `BEGIN IMMEDIATE` (so a read never has to be upgraded to a write, which SQLite cannot wait for) and a
    busy connection waits up to SQLITE_LOCK_TIMEOUT_S seconds. WAL lets readers run beside the writer.
    """
    if not url.startswith(SQLITE_PREFIX):
        raise ImproperlyConfigured(
            f"DATABASE_URL must be a postgresql:// URL or a SQLite URL starting with {SQLITE_PREFIX!r}")
    name = url.removeprefix(SQLITE_PREFIX)
    if not name:
        raise ImproperlyConfigured("DATABASE_URL has no database path")
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": name,
        "OPTIONS": {
            "timeout": SQLITE_LOCK_TIMEOUT_S,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
        },
    }


def database(url: str) -> dict[str, Any]:
    """Django's DATABASES entry for DATABASE_URL: PostgreSQL (`postgresql://...`) or SQLite (`sqlite:///...`)."""
    if url.partition("://")[0] in POSTGRESQL_SCHEMES:
        return postgresql_database(url)
    return sqlite_database(url)


def postgresql_database(url: str) -> dict[str, Any]:
    """Django's DATABASES entry for `postgresql://<user>:<password>@<host>:<port>/<name>?option=value` (psycopg 3).

    Query parameters become libpq connection options (e.g. `?sslmode=require`). Connections are kept for
    CONNECTION_MAX_AGE_S seconds and checked before reuse, so a database restart costs one failed check,
    not a failed request. Concurrency needs no special settings: orders take stock with conditional
    UPDATEs, whose row locks PostgreSQL holds until the transaction ends.
    """
    parts = urlsplit(url)
    if parts.scheme not in POSTGRESQL_SCHEMES:
        raise ImproperlyConfigured("DATABASE_URL must be a postgresql:// URL")
    name = unquote(parts.path.removeprefix("/"))
    try:
        port = parts.port
    except ValueError:
        raise ImproperlyConfigured("DATABASE_URL has an invalid port") from None
    if not parts.hostname or not name:
        raise ImproperlyConfigured("DATABASE_URL needs a host and a database name: postgresql://<user>:<password>@<host>:5432/<name>")
    options: dict[str, Any] = {"connect_timeout": POSTGRESQL_CONNECT_TIMEOUT_S}
    options.update(parse_qsl(parts.query))
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": name,
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname,
        "PORT": str(port or ""),
        "CONN_MAX_AGE": CONNECTION_MAX_AGE_S,
        "CONN_HEALTH_CHECKS": True,
        "OPTIONS": options,
    }
