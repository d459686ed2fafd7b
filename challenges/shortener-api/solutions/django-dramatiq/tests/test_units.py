"""Configuration, route templates and the JSON log format."""

from __future__ import annotations

import json
import logging

import pytest
from django.core.exceptions import ImproperlyConfigured

from shortener.config import database_from_url, positive_number, required
from shortener.logs import JsonFormatter, request_id
from shortener.safety import backoff
from shortener.telemetry import route_template


def test_database_url_becomes_django_settings() -> None:
    database = database_from_url("postgresql://app:p%40ss@db.local:5433/links?sslmode=require")
    assert (database["NAME"], database["USER"], database["PASSWORD"]) == ("links", "app", "p@ss")
    assert (database["HOST"], database["PORT"]) == ("db.local", "5433")
    assert database["OPTIONS"] == {"connect_timeout": 5, "options": "-c timezone=UTC", "sslmode": "require"}


@pytest.mark.parametrize("url", ["mysql://x/y", "postgresql://host", "not a url"])
def test_a_bad_database_url_is_refused(url: str) -> None:
    with pytest.raises(ImproperlyConfigured):
        database_from_url(url)


def test_variables_are_required_and_numbers_positive() -> None:
    assert required("A", {"A": " x "}) == "x"
    assert positive_number("N", 2.0, {}) == 2.0
    assert positive_number("N", 2.0, {"N": "1.5"}) == 1.5
    for env in ({"N": "x"}, {"N": "0"}):
        with pytest.raises(ImproperlyConfigured):
            positive_number("N", 2.0, env)
    with pytest.raises(ImproperlyConfigured):
        required("A", {"A": ""})


@pytest.mark.parametrize(("route", "template"), [
    ("<str:code>", "/{code}"), ("v1/links/<str:code>/stats", "/v1/links/{code}/stats"), ("health", "/health"),
    (None, "unmatched")])
def test_routes_are_labelled_by_template(route: str | None, template: str) -> None:
    assert route_template(route) == template


def test_a_log_line_is_one_json_object_with_the_request_id() -> None:
    record = logging.LogRecord("t", logging.INFO, "f", 1, "hi %s", ("there",), None)
    record.status = 201
    token = request_id.set("rid-1")
    try:
        line = json.loads(JsonFormatter().format(record))
    finally:
        request_id.reset(token)
    assert (line["message"], line["status"], line["level"], line["request_id"]) == ("hi there", 201, "INFO", "rid-1")


def test_the_backoff_doubles() -> None:
    assert list(backoff(0.2, 3)) == [0.2, 0.4, 0.8]
    assert list(backoff(0.2, 0)) == []
