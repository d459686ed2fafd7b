"""Operating the service: request ids, readiness of its dependencies, one JSON log line per request."""

from __future__ import annotations

import uuid

import httpx
import pytest

from checks.pytest_plugin import AppLog

pytestmark = pytest.mark.category("observability")


def test_a_request_id_is_echoed(client: httpx.Client) -> None:
    sent = f"req-{uuid.uuid4().hex}"
    response = client.get("/health", headers={"X-Request-ID": sent})
    echoed = response.headers.get("x-request-id")
    assert echoed == sent, f"X-Request-ID {sent!r} came back as {echoed!r}"


@pytest.mark.parametrize("path", ["/health", "/doesNotExist42"])
def test_a_request_id_is_generated_when_absent(client: httpx.Client, path: str) -> None:
    first = client.get(path).headers.get("x-request-id")
    second = client.get(path).headers.get("x-request-id")
    assert first and second and first != second, f"GET {path} needs a fresh X-Request-ID: {first!r}, {second!r}"


@pytest.mark.category("observability", weight=2)
def test_ready_is_200_when_the_database_and_redis_answer(client: httpx.Client) -> None:
    response = client.get("/ready")
    assert response.status_code == 200, f"/ready answered {response.status_code} while PostgreSQL and Redis are up"


@pytest.mark.category("observability", weight=2)
def test_each_request_writes_a_json_log_line_with_its_request_id(client: httpx.Client, app_log: AppLog) -> None:
    sent = f"log-{uuid.uuid4().hex}"
    client.get("/v1/links/doesNotExist42/stats", headers={"X-Request-ID": sent})
    lines = [line for line in app_log.json_lines() if sent in map(str, line.values())]
    assert lines, f"no JSON log line carries the request id {sent!r}: log each request as one JSON object"
