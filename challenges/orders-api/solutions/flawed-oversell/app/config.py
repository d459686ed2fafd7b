"""Settings read from the environment, once, at start-up."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)

DEFAULT_DATABASE_URL = "sqlite:///./orders.db"
DEFAULT_ORDERS_PER_MINUTE = 30
# Lets `uvicorn` start on a laptop with no setup at all; every real deployment sets SECRET_KEY.
DEV_SECRET_KEY = "orders-api-dev-secret-7f3a9c2e"  # noqa: S105


class ConfigError(RuntimeError):
    """The environment does not describe a usable configuration."""


_ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg", "postgres": "postgresql+asyncpg"}


def async_database_url(url: str) -> str:
    """The SQLAlchemy async URL for DATABASE_URL.

    `postgresql://<user>:<password>@<host>:5432/<db>` -> `postgresql+asyncpg://...`; `sqlite:////data/app.db` ->
    `sqlite+aiosqlite:////data/app.db`.
    """
    scheme, sep, rest = url.partition("://")
    dialect = scheme.split("+", 1)[0]
    if not sep or dialect not in _ASYNC_DRIVERS:
        raise ConfigError(f"DATABASE_URL must be a postgresql:// or sqlite:// URL, got scheme {scheme!r}")
    return f"{_ASYNC_DRIVERS[dialect]}://{rest}"


def is_sqlite(url: str) -> bool:
    """Whether DATABASE_URL points at SQLite (which needs its own connection settings)."""
    return url.partition(":")[0].split("+", 1)[0] == "sqlite"


@dataclass(frozen=True)
class Settings:
    """Everything the app needs to know about its environment."""

    secret_key: str = field(repr=False)  # never printed, never logged
    database_url: str = DEFAULT_DATABASE_URL
    orders_per_minute: int = DEFAULT_ORDERS_PER_MINUTE

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read the settings; a malformed value is a ConfigError."""
        env = os.environ if environ is None else environ
        secret_key = env.get("SECRET_KEY", "").strip()
        if not secret_key:
            logger.warning("SECRET_KEY is not set: using the development key")
            secret_key = DEV_SECRET_KEY
        database_url = env.get("DATABASE_URL") or DEFAULT_DATABASE_URL
        async_database_url(database_url)  # validates the scheme early
        return cls(
            secret_key=secret_key,
            database_url=database_url,
            orders_per_minute=_positive_int(env, "ORDERS_PER_MINUTE", DEFAULT_ORDERS_PER_MINUTE),
        )


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if value < 1:
        raise ConfigError(f"{name} must be at least 1, got {value}")
    return value
