"""Reading configuration from the environment: the only place settings come from."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ImproperlyConfigured

SQLITE_PREFIX = "sqlite:///"
SQLITE_LOCK_TIMEOUT_S = 20


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
        raise ImproperlyConfigured(f"DATABASE_URL must be a SQLite URL starting with {SQLITE_PREFIX!r}")
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
