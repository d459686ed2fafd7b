"""Settings, read from the environment once at start-up (nothing else configures the app)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

DEFAULT_DATABASE_URL = "sqlite:///app.db"
DEFAULT_ORDERS_PER_MINUTE = 30


class ConfigError(RuntimeError):
    """The environment does not describe a runnable app; the process refuses to start."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the app reads from its environment."""

    secret_key: str = field(repr=False)  # never printed, never logged
    database_url: str = DEFAULT_DATABASE_URL
    orders_per_minute: int = DEFAULT_ORDERS_PER_MINUTE
    log_level: str = "INFO"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build the settings from `env` (default: `os.environ`); ConfigError when they are unusable."""
        source = os.environ if env is None else env
        secret_key = source.get("SECRET_KEY", "")
        if not secret_key.strip():
            raise ConfigError("SECRET_KEY is required: set it in the environment (see .env.example)")
        return cls(
            secret_key=secret_key,
            database_url=source.get("DATABASE_URL") or DEFAULT_DATABASE_URL,
            orders_per_minute=_positive_int(source, "ORDERS_PER_MINUTE", DEFAULT_ORDERS_PER_MINUTE),
            log_level=(source.get("LOG_LEVEL") or "INFO").upper(),
        )


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a positive integer, got {raw!r}") from None
    if value < 1:
        raise ConfigError(f"{name} must be a positive integer, got {raw!r}")
    return value
