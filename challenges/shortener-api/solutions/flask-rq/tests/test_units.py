"""Configuration and the JSON log format."""

from __future__ import annotations

import json
import logging

import pytest

from linkshort.config import ConfigError, database_url, load_settings
from linkshort.logs import JsonFormatter

BASE = {"DATABASE_URL": "postgresql://db", "REDIS_URL": "redis://r", "SAFETY_API_URL": "http://s/"}


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {**BASE, "SAFETY_TIMEOUT_S": "1.5"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("RATE_LIMIT_PER_MINUTE", raising=False)
    settings = load_settings()
    assert (settings.safety_api_url, settings.safety_timeout_s, settings.rate_limit_per_minute) == ("http://s", 1.5, 30)


@pytest.mark.parametrize("env", [{}, {**BASE, "SAFETY_TIMEOUT_S": "x"}, {**BASE, "RATE_LIMIT_PER_MINUTE": "0"}])
def test_bad_settings_are_refused(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        load_settings(env)


def test_a_log_line_is_one_json_object_with_extras() -> None:
    record = logging.LogRecord("t", logging.INFO, "f", 1, "hi %s", ("there",), None)
    record.status = 201
    line = json.loads(JsonFormatter().format(record))
    assert (line["message"], line["status"], line["level"]) == ("hi there", 201, "INFO")


def test_the_worker_needs_only_the_database_url() -> None:
    assert database_url({"DATABASE_URL": "postgresql://x"}) == "postgresql://x"
    with pytest.raises(ConfigError):
        database_url({})
