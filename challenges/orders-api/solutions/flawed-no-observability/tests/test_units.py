"""Pieces tested on their own: configuration, the rate limiter, query parsing, cursors, entry points."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.core.exceptions import ImproperlyConfigured

from config import env
from shop.api import format_timestamp, parse_limit, parse_timestamp
from shop.errors import ValidationFailed
from shop.pagination import decode_cursor, encode_cursor
from shop.ratelimit import SlidingWindowLimiter


@pytest.mark.parametrize(("environ", "expected"), [({}, 30), ({"N": ""}, 30), ({"N": "5"}, 5)])
def test_positive_int_setting(environ: dict[str, str], expected: int) -> None:
    assert env.positive_int("N", 30, environ) == expected


@pytest.mark.parametrize("raw", ["zero", "0", "-3"])
def test_bad_positive_int_setting(raw: str) -> None:
    with pytest.raises(ImproperlyConfigured):
        env.positive_int("N", 30, {"N": raw})


def test_sqlite_urls() -> None:
    assert env.sqlite_database("sqlite:////data/app.db")["NAME"] == "/data/app.db"
    assert env.sqlite_database("sqlite:///local.db")["NAME"] == "local.db"
    assert env.sqlite_database("sqlite:///:memory:")["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    for url in ("postgres://db/app", "sqlite:///"):
        with pytest.raises(ImproperlyConfigured):
            env.sqlite_database(url)


def test_postgresql_urls() -> None:
    database = env.database("postgresql://app:p%40ss@db.internal:5433/shop?sslmode=require")
    assert database["ENGINE"] == "django.db.backends.postgresql"
    assert (database["NAME"], database["USER"], database["PASSWORD"]) == ("shop", "app", "p@ss")
    assert (database["HOST"], database["PORT"]) == ("db.internal", "5433")
    assert database["OPTIONS"] == {"connect_timeout": 10, "sslmode": "require"}
    assert database["CONN_HEALTH_CHECKS"] is True
    assert env.database("postgres://app@127.0.0.1/app")["PORT"] == ""
    assert env.database("sqlite:////data/app.db")["ENGINE"] == "django.db.backends.sqlite3"
    for url in ("postgresql://db.internal", "postgresql:///app", "postgresql://h:port/app", "mysql://db/app"):
        with pytest.raises(ImproperlyConfigured):
            env.database(url)
    with pytest.raises(ImproperlyConfigured):
        env.postgresql_database("sqlite:////data/app.db")


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_sliding_window_limiter() -> None:
    clock = FakeClock()
    limiter = SlidingWindowLimiter(window_s=60, clock=clock)

    assert limiter.hit("ada", 2) is None
    clock.now += 10
    assert limiter.hit("ada", 2) is None
    assert limiter.hit("bob", 2) is None
    clock.now += 20.5
    assert limiter.hit("ada", 2) == 30  # the first hit leaves the window in 29.5 s
    clock.now += 29.5
    assert limiter.hit("ada", 2) is None


@pytest.mark.parametrize(("raw", "expected"), [
    ("2026-11-26T10:15:00Z", datetime(2026, 11, 26, 10, 15, tzinfo=UTC)),
    ("2026-11-26T10:15:00", datetime(2026, 11, 26, 10, 15, tzinfo=UTC)),
    ("2026-11-26T11:15:00+01:00", datetime(2026, 11, 26, 10, 15, tzinfo=UTC)),
    ("2026-11-26T11:15:00 01:00", datetime(2026, 11, 26, 10, 15, tzinfo=UTC)),
    ("2026-11-26", datetime(2026, 11, 26, tzinfo=UTC)),
])
def test_parse_timestamp(raw: str, expected: datetime) -> None:
    assert parse_timestamp("t", raw) == expected


def test_format_timestamp_is_utc_with_z() -> None:
    moment = datetime(2026, 11, 26, 12, 15, tzinfo=timezone(timedelta(hours=2)))

    assert format_timestamp(moment) == "2026-11-26T10:15:00Z"


@pytest.mark.parametrize("raw", ["", "1.5", "-1", "1e2", "١"])
def test_limit_must_be_plain_digits(raw: str) -> None:
    with pytest.raises(ValidationFailed):
        parse_limit(raw)


def test_cursor_round_trip_and_tampering() -> None:
    cursor = encode_cursor(41)

    assert decode_cursor(cursor) == 41
    with pytest.raises(ValidationFailed):
        decode_cursor(cursor[:-2] + "xx")


def test_cursor_signed_with_an_odd_payload_is_rejected() -> None:
    from django.core import signing

    with pytest.raises(ValidationFailed):
        decode_cursor(signing.dumps({"after": "1"}, salt="shop.pagination.cursor"))


def test_entry_points_load() -> None:
    from config.wsgi import application
    from manage import main

    main(["manage.py", "check", "--fail-level", "WARNING"])
    assert callable(application)
