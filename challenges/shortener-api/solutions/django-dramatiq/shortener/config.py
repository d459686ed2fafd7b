"""Reading the environment: required variables, positive numbers, DATABASE_URL as Django's settings."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured


def required(name: str, env: Mapping[str, str] | None = None) -> str:
    """The variable's value; ImproperlyConfigured when it is unset or empty."""
    value = (os.environ if env is None else env).get(name, "").strip()
    if not value:
        raise ImproperlyConfigured(f"{name} is not set: export it (see .env.example)")
    return value


def positive_number(name: str, default: float, env: Mapping[str, str] | None = None) -> float:
    """The variable as a positive number, `default` when unset; ImproperlyConfigured when malformed."""
    raw = (os.environ if env is None else env).get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, got {raw!r}") from None
    if value <= 0:
        raise ImproperlyConfigured(f"{name} must be positive, got {raw!r}")
    return value


def database_from_url(url: str) -> dict[str, Any]:
    """Django's DATABASES entry for a postgresql:// URL (user, password, host, port and database name; libpq
    options as query parameters)."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql") or not parts.path.strip("/"):
        raise ImproperlyConfigured("DATABASE_URL must be a postgresql:// URL that names the database")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(parts.path.lstrip("/")),
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(parts.port or ""),
        # connect_timeout: an unreachable server fails fast. The session's time zone set at connection (as
        # settings.TIME_ZONE): otherwise Django sends `SELECT set_config('TimeZone', ...)` on every new one.
        "OPTIONS": {"connect_timeout": 5, "options": "-c timezone=UTC", **dict(parse_qsl(parts.query))},
    }
