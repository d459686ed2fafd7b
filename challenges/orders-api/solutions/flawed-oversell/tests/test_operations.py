"""Health, readiness, request ids, request logs and the error contract."""

from __future__ import annotations

import json
import logging
import sys

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from sqlalchemy.exc import OperationalError

from app.config import Settings
from app.db import Database
from app.logging_setup import JsonFormatter, configure_logging
from app.main import create_app
from app.services import catalog
from tests.helpers import error_code


async def test_health_and_ready(client: AsyncClient) -> None:
    assert (await client.get("/health")).json() == {"status": "ok"}
    ready = await client.get("/ready")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready"}


async def test_ready_is_503_when_the_database_fails(client: AsyncClient, monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken_ping(_self: Database) -> None:
        raise OperationalError("SELECT 1", {}, Exception("disk I/O error"))

    monkeypatch.setattr(Database, "ping", broken_ping)
    response = await client.get("/ready")
    assert response.status_code == 503
    assert error_code(response) == "unavailable"


async def test_request_id_is_echoed_or_generated(client: AsyncClient) -> None:
    echoed = await client.get("/health", headers={"X-Request-ID": "abc-123 ok"})
    assert echoed.headers["X-Request-ID"] == "abc-123 ok"
    too_long = await client.get("/health", headers={"X-Request-ID": "x" * 129})
    generated = too_long.headers["X-Request-ID"]
    assert generated != "x" * 129 and 1 <= len(generated) <= 128
    assert (await client.get("/nope")).headers["X-Request-ID"]


async def test_unknown_path_and_wrong_method_have_json_errors(client: AsyncClient) -> None:
    missing = await client.get("/v1/nothing-here")
    assert missing.status_code == 404
    assert error_code(missing) == "not_found"
    wrong = await client.delete("/v1/products")
    assert wrong.status_code == 405
    assert error_code(wrong) == "method_not_allowed"


async def test_unexpected_errors_are_json_500_and_logged(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def explode(*_args: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(catalog, "get_customer", explode)
    transport = ASGITransport(app=app, raise_app_exceptions=False)
    async with AsyncClient(transport=transport, base_url="http://test") as http:
        response = await http.get("/v1/customers/1", headers={"X-Request-ID": "req-500"})
    assert response.status_code == 500
    assert error_code(response) == "internal_error"
    assert "boom" not in response.text
    assert response.headers["X-Request-ID"] == "req-500"
    crash = next(record for record in caplog.records if record.exc_info)
    assert getattr(crash, "request_id", None) == "req-500"


async def test_one_log_record_per_request(client: AsyncClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="app.request")
    await client.get("/v1/products/5?verbose=1", headers={"X-Request-ID": "req-42"})
    [record] = [record for record in caplog.records if record.name == "app.request"]
    assert (record.method, record.path, record.status, record.request_id) == ("GET", "/v1/products/5", 404, "req-42")
    assert isinstance(record.duration_ms, float)


def fail() -> None:
    raise ValueError("bad value")


def test_json_formatter_writes_one_object_per_line() -> None:
    try:
        fail()
    except ValueError:
        record = logging.LogRecord("app", logging.ERROR, __file__, 1, "failed %s", ("here",), sys.exc_info())
    record.status = 500
    line = JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"] == "failed here"
    assert entry["status"] == 500
    assert entry["time"].endswith("Z")
    assert "ValueError: bad value" in entry["exc_info"]


def test_configure_logging_sends_json_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    try:
        configure_logging()
        logging.getLogger("app.test").info("hello", extra={"answer": 42})
    finally:
        root.handlers[:], root.level = saved_handlers, saved_level
    entry = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (entry["message"], entry["answer"], entry["level"]) == ("hello", 42, "INFO")


async def test_tables_are_created_at_start_up_and_data_is_kept(settings: Settings, client: AsyncClient) -> None:
    created = await client.post("/v1/customers", json={"name": "Ada", "email": "ada@example.com"})
    restarted = create_app(settings)  # a second start on the same database file
    async with restarted.router.lifespan_context(restarted), \
            AsyncClient(transport=ASGITransport(app=restarted), base_url="http://test") as fresh:
        fetched = await fresh.get(f"/v1/customers/{created.json()['id']}")
    assert fetched.json() == created.json()
