"""Configuration, timestamps and cursors."""

from __future__ import annotations

from datetime import datetime

import pytest

from app.config import ConfigError, Settings, async_database_url, is_sqlite, sync_database_url
from app.db import POOL_OVERFLOW, Database
from app.errors import ValidationFailed
from app.main import create_app
from app.pagination import CursorCodec
from app.params import parse_timestamp


def test_secret_key_is_required() -> None:
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        Settings.from_env({"DATABASE_URL": "sqlite:////tmp/x.db"})


def test_settings_from_environment() -> None:
    settings = Settings.from_env({"SECRET_KEY": "s3cr3t-value", "DATABASE_URL": "sqlite:////data/app.db",
                                  "ORDERS_PER_MINUTE": "7"})
    assert (settings.database_url, settings.orders_per_minute) == ("sqlite:////data/app.db", 7)
    assert "s3cr3t-value" not in repr(settings)
    assert Settings.from_env({"SECRET_KEY": "s"}).orders_per_minute == 30


@pytest.mark.parametrize("env", [{"ORDERS_PER_MINUTE": "many"}, {"ORDERS_PER_MINUTE": "0"},
                                 {"DATABASE_URL": "mysql://db/app"},
                                 {"DATABASE_URL": "not a url"}])
def test_malformed_settings_are_refused(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        Settings.from_env({"SECRET_KEY": "s", **env})


def test_database_urls() -> None:
    assert async_database_url("sqlite:////data/app.db") == "sqlite+aiosqlite:////data/app.db"
    assert sync_database_url("sqlite+aiosqlite:////data/app.db") == "sqlite:////data/app.db"


@pytest.mark.parametrize(
    "url",
    ["postgresql://app:pw@127.0.0.1:5432/app", "postgres://app:pw@127.0.0.1:5432/app",
     "postgresql+asyncpg://app:pw@127.0.0.1:5432/app"],
)
def test_postgresql_urls_use_asyncpg(url: str) -> None:
    assert async_database_url(url) == "postgresql+asyncpg://app:pw@127.0.0.1:5432/app"
    assert sync_database_url(url) == "postgresql://app:pw@127.0.0.1:5432/app"
    assert not is_sqlite(url)
    assert Settings.from_env({"SECRET_KEY": "s", "DATABASE_URL": url}).database_url == url


def test_a_postgresql_database_gets_a_bounded_pool_and_no_write_lock() -> None:
    db = Database("postgresql://app:pw@127.0.0.1:5432/app")  # nothing connects until the first query
    assert not db.is_sqlite
    assert db.engine.dialect.name == "postgresql" and db.engine.dialect.driver == "asyncpg"
    assert db.engine.pool.size() + POOL_OVERFLOW <= 10  # type: ignore[attr-defined]
    sqlite = Database("sqlite:////tmp/unused.db")
    assert sqlite.is_sqlite and sqlite.engine.dialect.driver == "aiosqlite"


def test_create_app_reads_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.setattr("app.main.configure_logging", lambda: None)
    monkeypatch.setenv("SECRET_KEY", "from-env")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/app.db")
    monkeypatch.setenv("ORDERS_PER_MINUTE", "3")
    assert create_app().state.orders.limiter.limit == 3
    monkeypatch.delenv("SECRET_KEY")
    with pytest.raises(ConfigError):
        create_app()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-11-26T10:15:00Z", datetime(2026, 11, 26, 10, 15)),
        ("2026-11-26T11:15:00+01:00", datetime(2026, 11, 26, 10, 15)),
        ("2026-11-26T11:15:00 01:00", datetime(2026, 11, 26, 10, 15)),
        ("2026-11-26T10:15:00", datetime(2026, 11, 26, 10, 15)),
        ("2026-11-26", datetime(2026, 11, 26)),
        (None, None),
    ],
)
def test_parse_timestamp(raw: str | None, expected: datetime | None) -> None:
    assert parse_timestamp(raw, "from") == expected


@pytest.mark.parametrize("raw", ["", "tomorrow", "0001-01-01T00:00:00+01:00"])
def test_unparsable_timestamps(raw: str) -> None:
    with pytest.raises(ValidationFailed):
        parse_timestamp(raw, "from")


def test_cursors_are_signed_and_scoped() -> None:
    codec = CursorCodec("key")
    cursor = codec.encode("orders", 41)
    assert codec.decode("orders", cursor) == 41
    for forged in (CursorCodec("other-key").encode("orders", 41), cursor + "x", "!!!.sig", "é.x"):
        with pytest.raises(ValidationFailed):
            codec.decode("orders", forged)
    with pytest.raises(ValidationFailed):
        codec.decode("products", cursor)
