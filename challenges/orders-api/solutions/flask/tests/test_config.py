"""Configuration from the environment and the process entry points."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from unittest import mock

import pytest
from sqlalchemy.pool import QueuePool

from app import create_app
from app.config import DEFAULT_ORDERS_PER_MINUTE, ConfigError, Settings
from app.db import POOL_OVERFLOW, create_db_engine, sqlalchemy_url


def test_secret_key_is_required() -> None:
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        Settings.from_env({"DATABASE_URL": "sqlite://"})
    with pytest.raises(ConfigError):
        Settings.from_env({"SECRET_KEY": "   "})


def test_defaults_and_overrides() -> None:
    defaults = Settings.from_env({"SECRET_KEY": "k"})
    custom = Settings.from_env({"SECRET_KEY": "k", "DATABASE_URL": "sqlite:////data/app.db",
                                "ORDERS_PER_MINUTE": "20", "LOG_LEVEL": "debug"})

    assert defaults.orders_per_minute == DEFAULT_ORDERS_PER_MINUTE
    assert (custom.database_url, custom.orders_per_minute, custom.log_level) == ("sqlite:////data/app.db", 20, "DEBUG")


@pytest.mark.parametrize("value", ["abc", "0", "-3", "1.5"])
def test_orders_per_minute_must_be_a_positive_integer(value: str) -> None:
    with pytest.raises(ConfigError, match="ORDERS_PER_MINUTE"):
        Settings.from_env({"SECRET_KEY": "k", "ORDERS_PER_MINUTE": value})


def test_the_secret_is_not_in_the_settings_repr() -> None:
    assert "hunter2" not in repr(Settings.from_env({"SECRET_KEY": "hunter2"}))


def test_app_refuses_to_start_without_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SECRET_KEY", raising=False)

    with pytest.raises(ConfigError):
        create_app()


def test_wsgi_entry_point_reads_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SECRET_KEY", "from-the-environment")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'app.db'}")
    monkeypatch.setenv("ORDERS_PER_MINUTE", "7")
    monkeypatch.delitem(sys.modules, "app.wsgi", raising=False)

    with mock.patch("app.logging_setup.configure_logging") as configure_logging:
        wsgi = importlib.import_module("app.wsgi")

    configure_logging.assert_called_once_with("INFO")
    assert wsgi.settings.orders_per_minute == 7
    assert wsgi.app.test_client().get("/health").status_code == 200


def test_gunicorn_runs_one_threaded_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "8123")
    monkeypatch.delitem(sys.modules, "gunicorn_conf", raising=False)

    conf = importlib.import_module("gunicorn_conf")

    assert conf.workers == 1 and conf.threads > 1
    assert conf.bind == ["127.0.0.1:8123"]
    assert conf.logconfig_dict["root"]["handlers"] == ["stderr"]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://app:pw@127.0.0.1:5432/app", "postgresql+psycopg://app:pw@127.0.0.1:5432/app"),
        ("postgres://app:pw@db/app", "postgresql+psycopg://app:pw@db/app"),
        ("postgresql+psycopg://app:pw@db/app", "postgresql+psycopg://app:pw@db/app"),
        ("sqlite:////data/app.db", "sqlite:////data/app.db"),
    ],
)
def test_database_urls_name_the_driver(url: str, expected: str) -> None:
    assert sqlalchemy_url(url) == expected


def test_a_postgresql_engine_uses_psycopg_and_a_bounded_pool() -> None:
    engine = create_db_engine("postgresql://app:pw@127.0.0.1:5432/app")  # nothing connects until used
    try:
        assert (engine.dialect.name, engine.dialect.driver) == ("postgresql", "psycopg")
        assert isinstance(engine.pool, QueuePool)
        assert engine.pool.size() + POOL_OVERFLOW <= 10
    finally:
        engine.dispose()
