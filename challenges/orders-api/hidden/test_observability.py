"""Observability: liveness and readiness, request ids, one structured log line per request."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from _shop import make_product, unique

pytestmark = pytest.mark.category("observability")


def test_health_is_200_ok(client: httpx.Client) -> None:
    response = client.get("/health")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_ready_is_200_when_the_database_answers(client: httpx.Client) -> None:
    response = client.get("/ready")
    assert response.status_code == 200, response.text[:300]
    assert response.json() == {"status": "ready"}


@pytest.mark.category("observability", weight=2)
def test_request_id_is_echoed(client: httpx.Client) -> None:
    request_id = unique("trace")
    response = client.get("/v1/products", headers={"X-Request-ID": request_id})
    assert response.headers.get("x-request-id") == request_id


@pytest.mark.parametrize("path", ["/v1/products", "/v1/orders/999999999", "/health"])
def test_request_id_is_generated_when_absent(client: httpx.Client, path: str) -> None:
    first, second = client.get(path), client.get(path)
    assert first.headers.get("x-request-id"), f"{path} answered without an X-Request-ID"
    assert first.headers["x-request-id"] != second.headers.get("x-request-id"), "two requests got the same id"


def test_request_id_is_on_error_responses(client: httpx.Client) -> None:
    request_id = unique("err")
    response = client.post("/v1/products", json={"name": ""}, headers={"X-Request-ID": request_id})
    assert response.status_code in (400, 422)
    assert response.headers.get("x-request-id") == request_id


def test_an_unusable_request_id_is_replaced(client: httpx.Client) -> None:
    response = client.get("/v1/products", headers={"X-Request-ID": "x" * 200})
    assert response.headers.get("x-request-id") not in (None, "", "x" * 200)


def _line_for(app_log: Any, request_id: str) -> dict[str, Any]:
    def wanted(line: dict[str, Any]) -> bool:
        return line.get("request_id") == request_id and "status" in line

    # a correct app may write the line just after its response: wait for it (app_log.json_lines, `until`)
    lines = [line for line in app_log.json_lines(until=lambda written: any(map(wanted, written))) if wanted(line)]
    assert lines, f"no JSON log line with request_id {request_id!r} and a status was written"
    found: dict[str, Any] = lines[-1]
    return found


@pytest.mark.category("observability", weight=3)
def test_each_request_writes_one_json_log_line(client: httpx.Client, app_log: Any) -> None:
    request_id = unique("log")
    assert client.get("/v1/products/999999999", params={"q": "1"}, headers={"X-Request-ID": request_id}).status_code == 404
    line = _line_for(app_log, request_id)
    assert line.get("method") == "GET"
    assert line.get("path") == "/v1/products/999999999", f"path logged as {line.get('path')!r}"
    assert str(line.get("status")) == "404"
    duration = line.get("duration_ms")
    assert isinstance(duration, int | float) and not isinstance(duration, bool) and duration >= 0, (
        f"duration_ms is {duration!r}")


@pytest.mark.category("observability", weight=2)
def test_log_line_for_a_write_has_its_status_and_generated_id(client: httpx.Client, app_log: Any) -> None:
    response = client.post("/v1/products", json={"name": "Logged", "sku": unique("LOG"), "price_cents": 1, "stock": 1})
    assert response.status_code == 201
    line = _line_for(app_log, response.headers["x-request-id"])
    assert line.get("method") == "POST" and str(line.get("status")) == "201"


def test_log_lines_carry_the_request_id_of_concurrent_requests(client: httpx.Client, app_log: Any) -> None:
    product = make_product(client)
    ids = [unique("many") for _ in range(5)]
    for request_id in ids:
        client.get(f"/v1/products/{product['id']}", headers={"X-Request-ID": request_id})
    logged = {line.get("request_id") for line in app_log.json_lines(
        until=lambda lines: set(ids) <= {line.get("request_id") for line in lines})}
    assert set(ids) <= logged, f"requests without a log line: {sorted(set(ids) - logged)}"
