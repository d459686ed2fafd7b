"""Unit tests of the pieces without HTTP: rate limiter, timestamps, cursors, JSON logs."""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime

import pytest
from itsdangerous import URLSafeSerializer

from app.errors import ValidationFailed
from app.logging_setup import JsonFormatter
from app.pagination import CursorCodec
from app.ratelimit import SlidingWindowLimiter
from app.timeutil import parse_timestamp, to_iso


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_limiter_allows_the_limit_then_says_when_to_retry() -> None:
    clock = FakeClock()
    limiter = SlidingWindowLimiter(2, window_s=60, clock=clock)

    assert limiter.hit("a") is None
    clock.now += 10.5
    assert limiter.hit("a") is None
    assert limiter.hit("a") == 50  # the first hit leaves the window in 49.5 s, rounded up
    assert limiter.hit("b") is None, "keys are limited separately"
    clock.now += 49.5
    assert limiter.hit("a") is None


def test_limiter_never_says_zero_seconds() -> None:
    clock = FakeClock()
    limiter = SlidingWindowLimiter(1, window_s=60, clock=clock)
    limiter.hit("a")
    clock.now += 59.999

    assert limiter.hit("a") == 1


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-11-26T10:15:00Z", datetime(2026, 11, 26, 10, 15)),
    ("2026-11-26T12:15:00+02:00", datetime(2026, 11, 26, 10, 15)),
    ("2026-11-26T10:15:00 00:00", datetime(2026, 11, 26, 10, 15)),  # an unencoded "+" in a query string
    ("2026-11-26T10:15:00", datetime(2026, 11, 26, 10, 15)),
    ("2026-11-26 10:15", datetime(2026, 11, 26, 10, 15)),
])
def test_timestamps_are_read_as_utc(text: str, expected: datetime) -> None:
    assert parse_timestamp(text) == expected


@pytest.mark.parametrize("text", ["yesterday", "2026-13-45T00:00:00Z", "", "2026-11-26T10:15:00 0x:00"])
def test_unparsable_timestamps_raise(text: str) -> None:
    with pytest.raises(ValueError):
        parse_timestamp(text)


def test_timestamps_are_written_with_z() -> None:
    assert to_iso(datetime(2026, 11, 26, 10, 15)) == "2026-11-26T10:15:00Z"
    assert to_iso(datetime(2026, 11, 26, 10, 15, 0, 5)) == "2026-11-26T10:15:00.000005Z"


def test_cursor_round_trip_and_tampering() -> None:
    codec = CursorCodec("secret")
    cursor = codec.encode("orders", 41)

    assert codec.decode("orders", cursor) == 41
    for bad in (cursor + "x", CursorCodec("other-secret").encode("orders", 41), codec.encode("products", 41)):
        with pytest.raises(ValidationFailed):
            codec.decode("orders", bad)


@pytest.mark.parametrize("payload", [[1], {"scope": "orders", "after": "1"}, {"scope": "orders", "after": -1},
                                     {"scope": "orders", "after": True}])
def test_well_signed_but_malformed_cursors_are_rejected(payload: object) -> None:
    forged = URLSafeSerializer("secret", salt="orders-api.cursor").dumps(payload)

    with pytest.raises(ValidationFailed):
        CursorCodec("secret").decode("orders", forged)


def _fail() -> None:
    raise ValueError("boom")


def test_json_formatter_writes_one_line_with_extra_fields_and_traceback() -> None:
    formatter = JsonFormatter()
    record = logging.LogRecord("app.test", logging.INFO, __file__, 1, "hello %s", ("world",), None)
    record.request_id = "r-1"
    try:
        _fail()
    except ValueError:
        failed = logging.LogRecord("app.test", logging.ERROR, __file__, 2, "failed", None, sys.exc_info())

    line = formatter.format(record)
    error = json.loads(formatter.format(failed))

    assert "\n" not in line
    assert json.loads(line) | {"ts": None} == {"ts": None, "level": "info", "logger": "app.test",
                                                "message": "hello world", "request_id": "r-1"}
    assert "ValueError: boom" in error["exc_info"]
