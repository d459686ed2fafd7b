"""Redirects count their click at once; stats, health and request ids."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

KEY = {"X-API-Key": "test-key"}


async def _create(client: httpx.AsyncClient, url: str = "https://example.com/r") -> str:
    response = await client.post("/v1/links", json={"url": url}, headers=KEY)
    assert response.status_code == 201
    code: str = response.json()["code"]
    return code


async def test_redirect_counts_the_click(client: httpx.AsyncClient) -> None:
    code = await _create(client)
    for _ in range(3):
        response = await client.get(f"/{code}")
        assert response.status_code == 302
        assert response.headers["location"] == "https://example.com/r"
    stats = (await client.get(f"/v1/links/{code}/stats")).json()
    today = datetime.now(UTC).date().isoformat()
    assert stats == {"code": code, "total_clicks": 3, "daily": [{"date": today, "clicks": 3}]}


async def test_unknown_code_is_404(client: httpx.AsyncClient) -> None:
    assert (await client.get("/missing")).status_code == 404
    assert (await client.get("/v1/links/missing/stats")).status_code == 404


async def test_health_ready_and_request_ids(client: httpx.AsyncClient) -> None:
    health = await client.get("/health", headers={"X-Request-ID": "abc-123"})
    assert health.json() == {"status": "ok"}
    assert health.headers["x-request-id"] == "abc-123"
    ready = await client.get("/ready", headers={"X-Request-ID": "bad id with spaces"})
    assert ready.json() == {"status": "ready", "checks": {"database": "ok", "redis": "ok"}}
    assert ready.headers["x-request-id"] != "bad id with spaces"


async def test_unknown_method_is_a_json_405(client: httpx.AsyncClient) -> None:
    response = await client.delete("/v1/links/abc/stats")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
