"""Creating links: validation, the safety service (verdicts, retries, caching), the rate limit."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import FakeSafety

KEY = {"X-API-Key": "test-key"}


async def test_create_returns_the_link(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/links", json={"url": "https://example.com/a"}, headers=KEY)
    assert response.status_code == 201
    body = response.json()
    assert body["url"] == "https://example.com/a"
    assert body["short_url"].endswith("/" + body["code"])
    assert response.headers["location"] == f"/v1/links/{body['code']}"


async def test_get_link_and_unknown_link(client: httpx.AsyncClient) -> None:
    code = (await client.post("/v1/links", json={"url": "https://example.com/b"}, headers=KEY)).json()["code"]
    assert (await client.get(f"/v1/links/{code}")).json()["url"] == "https://example.com/b"
    missing = await client.get("/v1/links/nope")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    assert (await client.get("/v1/links/bad!code")).status_code == 404


@pytest.mark.parametrize("url", ["not a url", "ftp://example.com", "", "https://", "javascript:alert(1)",
                                 "https://exa mple.com", "https://example.com/" + "a" * 2048, "http://[::1"])
async def test_invalid_urls_are_422_without_a_safety_call(client: httpx.AsyncClient, safety: FakeSafety,
                                                          url: str) -> None:
    response = await client.post("/v1/links", json={"url": url}, headers=KEY)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"
    assert safety.asked == []


@pytest.mark.parametrize("headers", [{}, {"X-API-Key": ""}, {"X-API-Key": "with space"}])
async def test_an_api_key_is_required(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    response = await client.post("/v1/links", json={"url": "https://example.com"}, headers=headers)
    assert response.status_code == 401


async def test_unsafe_url_is_422(client: httpx.AsyncClient, safety: FakeSafety) -> None:
    safety.handler = lambda request: httpx.Response(200, json={"safe": False})
    response = await client.post("/v1/links", json={"url": "https://evil.example"}, headers=KEY)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "unsafe_url"


async def test_verdicts_are_cached(client: httpx.AsyncClient, safety: FakeSafety) -> None:
    for _ in range(3):
        assert (await client.post("/v1/links", json={"url": "https://example.com/c"}, headers=KEY)).status_code == 201
    assert safety.asked == ["https://example.com/c"]


async def test_5xx_and_timeouts_are_retried(client: httpx.AsyncClient, safety: FakeSafety) -> None:
    answers = iter([httpx.ReadTimeout("slow"), httpx.Response(502), httpx.Response(200, json={"safe": True})])

    def flaky(request: httpx.Request) -> httpx.Response:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    safety.handler = flaky
    response = await client.post("/v1/links", json={"url": "https://example.com/d"}, headers=KEY)
    assert response.status_code == 201
    assert len(safety.asked) == 3


@pytest.mark.parametrize("answer", [httpx.Response(500), httpx.Response(200, json={"safe": "yes"}),
                                    httpx.Response(200, text="not json"), httpx.Response(404)])
async def test_no_verdict_is_a_503_with_retry_after(client: httpx.AsyncClient, safety: FakeSafety,
                                                    answer: httpx.Response) -> None:
    safety.handler = lambda request: answer
    response = await client.post("/v1/links", json={"url": "https://example.com/e"}, headers=KEY)
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert response.json()["error"]["code"] == "safety_unavailable"


async def test_rate_limit_per_key(client: httpx.AsyncClient) -> None:
    for number in range(5):
        response = await client.post("/v1/links", json={"url": f"https://example.com/{number}"}, headers=KEY)
        assert response.status_code == 201
    refused = await client.post("/v1/links", json={"url": "https://example.com/x"}, headers=KEY)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    other = await client.post("/v1/links", json={"url": "https://example.com/x"}, headers={"X-API-Key": "other"})
    assert other.status_code == 201


async def test_malformed_json_is_422(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/links", content=b"nope", headers={**KEY, "Content-Type": "application/json"})
    assert response.status_code == 422
