"""Health, readiness, request ids, the access log and error answers."""

from __future__ import annotations

import json
import logging

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.exc import OperationalError

from app.db import Database
from app.services import catalog
from tests.helpers import error_code


def test_health_needs_no_database(client: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Database, "ping", lambda self: pytest.fail("/health touched the database"))

    response = client.get("/health")

    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


def test_ready_when_the_database_answers(client: FlaskClient) -> None:
    response = client.get("/ready")

    assert response.status_code == 200 and response.get_json() == {"status": "ready"}


def test_not_ready_when_the_database_fails(client: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self: Database) -> None:
        raise OperationalError("SELECT 1", {}, Exception("disk I/O error"))

    monkeypatch.setattr(Database, "ping", broken)

    response = client.get("/ready")

    assert response.status_code == 503
    assert response.get_json()["error"]["message"] == "the database does not answer"


def test_request_id_is_echoed_or_generated(client: FlaskClient) -> None:
    echoed = client.get("/health", headers={"X-Request-ID": "abc-123"})
    generated = [client.get("/v1/products/999").headers["X-Request-ID"] for _ in range(2)]
    replaced = client.get("/health", headers={"X-Request-ID": "x" * 129})

    assert echoed.headers["X-Request-ID"] == "abc-123"
    assert generated[0] and generated[0] != generated[1]
    assert replaced.headers["X-Request-ID"] not in ("", "x" * 129)


def test_each_request_writes_one_json_access_log_record(client: FlaskClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="app.access")

    client.get("/v1/products/999?q=1", headers={"X-Request-ID": "trace-1"})

    records = [r for r in caplog.records if r.name == "app.access"]
    assert len(records) == 1
    fields = records[0].__dict__
    assert (fields["method"], fields["path"], fields["status"], fields["request_id"]) == (
        "GET", "/v1/products/999", 404, "trace-1")
    assert isinstance(fields["duration_ms"], float) and fields["duration_ms"] >= 0


def test_unknown_path_and_wrong_method_answer_json(client: FlaskClient) -> None:
    missing = client.get("/v2/products")
    wrong = client.delete("/v1/products")

    assert missing.status_code == 404 and error_code(missing) == "not_found"
    assert wrong.status_code == 405 and error_code(wrong) == "method_not_allowed"
    assert "POST" in wrong.headers["Allow"]


def test_unexpected_errors_are_logged_and_hidden(
        app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    def explode(*_: object) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(catalog, "get_product", explode)

    response = client.get("/v1/products/1")

    assert response.status_code == 500 and error_code(response) == "internal_error"
    assert "secret internals" not in response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)
    logged = [r for r in caplog.records if r.name == "app.errors"]
    assert logged and logged[0].exc_info is not None


def test_error_bodies_are_json_not_html(client: FlaskClient) -> None:
    response = client.post("/v1/products", data="x" * (2 * 1024 * 1024), content_type="application/json")

    assert response.status_code == 413
    assert json.loads(response.get_data())["error"]["code"] == "validation_error"
