"""Pure pieces: configuration, the worker's aggregation, the request-id rule, the JSON log format."""

from __future__ import annotations

import json
import logging
from datetime import date

import pytest

from shortener.clicks import aggregate
from shortener.config import ConfigError, load_settings
from shortener.logging_setup import JsonFormatter, request_id_var
from shortener.middleware import choose_request_id

BASE = {"DATABASE_URL": "postgresql://db", "REDIS_URL": "redis://r", "SAFETY_API_URL": "http://s/"}


def test_settings_from_the_environment() -> None:
    settings = load_settings({**BASE, "SAFETY_TIMEOUT_S": "1.5", "RATE_LIMIT_PER_MINUTE": "7"})
    assert settings.safety_api_url == "http://s"
    assert settings.safety_timeout_s == 1.5
    assert settings.rate_limit_per_minute == 7


@pytest.mark.parametrize("env", [{}, {**BASE, "SAFETY_TIMEOUT_S": "x"}, {**BASE, "RATE_LIMIT_PER_MINUTE": "-1"}])
def test_bad_settings_are_refused(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        load_settings(env)


def test_aggregate_counts_per_link_and_day() -> None:
    batch = [b'{"link_id": 1, "day": "2026-01-02"}'] * 2 + [b'{"link_id": 2, "day": "2026-01-02"}']
    assert aggregate(batch) == {(1, date(2026, 1, 2)): 2, (2, date(2026, 1, 2)): 1}


def test_request_ids() -> None:
    assert choose_request_id("abc") == "abc"
    assert choose_request_id("x" * 200) != "x" * 200
    assert len(choose_request_id(None)) == 32


def test_json_log_lines_carry_extra_fields_and_the_request_id() -> None:
    token = request_id_var.set("rid-1")
    try:
        record = logging.LogRecord("t", logging.INFO, "f", 1, "hello %s", ("you",), None)
        record.status = 200
        line = json.loads(JsonFormatter().format(record))
    finally:
        request_id_var.reset(token)
    assert line["message"] == "hello you"
    assert line["request_id"] == "rid-1"
    assert line["status"] == 200


def test_settings_default_to_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in BASE.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("RATE_LIMIT_PER_MINUTE", raising=False)
    assert load_settings().rate_limit_per_minute == 30
