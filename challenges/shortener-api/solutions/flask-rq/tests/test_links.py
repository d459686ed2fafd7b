"""Creating links: validation, the safety service (verdicts, retries, cache), the rate limit."""

from __future__ import annotations

import httpx
import pytest
from flask.testing import FlaskClient

from tests.conftest import FakeSafety

KEY = {"X-API-Key": "test-key"}


def test_create_and_fetch(client: FlaskClient) -> None:
    response = client.post("/v1/links", json={"url": "https://example.com/a"}, headers=KEY)
    assert response.status_code == 201
    body = response.get_json()
    assert body["url"] == "https://example.com/a"
    assert response.headers["Location"] == f"/v1/links/{body['code']}"
    assert client.get(f"/v1/links/{body['code']}").get_json()["short_url"].endswith(body["code"])


@pytest.mark.parametrize("body", [{"url": "not a url"}, {"url": "ftp://example.com"}, {"url": ""}, {"url": 42}, {},
                                  {"url": "https://"}, {"url": "https://a b.com"}, {"url": "https://x/" + "a" * 2048},
                                  {"url": "http://[::1"}, ["https://example.com"]])
def test_invalid_input_is_422_without_a_safety_call(client: FlaskClient, safety: FakeSafety, body: object) -> None:
    response = client.post("/v1/links", json=body, headers=KEY)
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "validation_error"
    assert safety.asked == []


def test_a_body_that_is_not_json_is_422(client: FlaskClient) -> None:
    response = client.post("/v1/links", data=b"nope", headers={**KEY, "Content-Type": "application/json"})
    assert response.status_code == 422


@pytest.mark.parametrize("headers", [{}, {"X-API-Key": ""}, {"X-API-Key": "with space"}])
def test_an_api_key_is_required(client: FlaskClient, headers: dict[str, str]) -> None:
    assert client.post("/v1/links", json={"url": "https://example.com"}, headers=headers).status_code == 401


def test_unsafe_is_422_and_verdicts_are_cached(client: FlaskClient, safety: FakeSafety) -> None:
    safety.handler = lambda request: httpx.Response(200, json={"safe": False})
    for _ in range(2):
        response = client.post("/v1/links", json={"url": "https://evil.example"}, headers=KEY)
        assert response.status_code == 422
        assert response.get_json()["error"]["code"] == "unsafe_url"
    assert safety.asked == ["https://evil.example"]


def test_timeouts_and_5xx_are_retried(client: FlaskClient, safety: FakeSafety) -> None:
    answers: list[httpx.Response | Exception] = [httpx.ConnectTimeout("slow"), httpx.Response(503),
                                                 httpx.Response(200, json={"safe": True})]

    def flaky(request: httpx.Request) -> httpx.Response:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    safety.handler = flaky
    assert client.post("/v1/links", json={"url": "https://example.com/d"}, headers=KEY).status_code == 201
    assert len(safety.asked) == 3


@pytest.mark.parametrize("answer", [httpx.Response(500), httpx.Response(200, json={"safe": "yes"}),
                                    httpx.Response(200, text="not json"), httpx.Response(400)])
def test_no_verdict_is_503_with_retry_after(client: FlaskClient, safety: FakeSafety, answer: httpx.Response) -> None:
    safety.handler = lambda request: answer
    response = client.post("/v1/links", json={"url": "https://example.com/e"}, headers=KEY)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"


def test_rate_limit_is_per_key(client: FlaskClient) -> None:
    for number in range(5):
        assert client.post("/v1/links", json={"url": f"https://e.com/{number}"}, headers=KEY).status_code == 201
    refused = client.post("/v1/links", json={"url": "https://e.com/x"}, headers=KEY)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert client.post("/v1/links", json={"url": "https://e.com/x"}, headers={"X-API-Key": "other"}).status_code == 201
