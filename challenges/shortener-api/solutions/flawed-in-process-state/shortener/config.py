"""Configuration, read once from the environment (12-factor): nothing is hard-coded for production."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass


class ConfigError(RuntimeError):
    """A required variable is missing or malformed."""


@dataclass(frozen=True)
class Settings:
    """Everything the web app and the worker need to run."""

    database_url: str
    redis_url: str
    safety_api_url: str
    safety_timeout_s: float = 2.0
    safety_attempts: int = 3
    safety_backoff_s: float = 0.2
    rate_limit_per_minute: int = 30
    verdict_ttl_s: int = 86_400
    link_cache_ttl_s: int = 3_600
    retry_after_s: int = 5


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigError(f"{name} is not set: export it (see .env.example)")
    return value


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if value <= 0:
        raise ConfigError(f"{name} must be positive, got {raw!r}")
    return value


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Settings from `env` (default: the process environment)."""
    source = os.environ if env is None else env
    return Settings(
        database_url=_required(source, "DATABASE_URL"),
        redis_url=_required(source, "REDIS_URL"),
        safety_api_url=_required(source, "SAFETY_API_URL").rstrip("/"),
        safety_timeout_s=_number(source, "SAFETY_TIMEOUT_S", 2.0),
        rate_limit_per_minute=int(_number(source, "RATE_LIMIT_PER_MINUTE", 30)),
    )
