"""Creating links: validation, the safety service (verdicts, retries, cache), the rate limit."""

from __future__ import annotations

import httpx
import pytest
from django.test import Client

from tests.conftest import KEY, FakeSafety


def test_create_and_fetch(api: Client) -> None:
    response = api.post("/v1/links", {"url": "https://example.com/a"}, content_type="application/json", **KEY)
    assert response.status_code == 201
    body = response.json()
    assert body["url"] == "https://example.com/a"
    assert response["Location"] == f"/v1/links/{body['code']}"
    assert api.get(f"/v1/links/{body['code']}").json()["short_url"] == f"http://testserver/{body['code']}"


@pytest.mark.parametrize("body", [
    {"url": "not a url"}, {"url": "ftp://example.com"}, {"url": ""}, {"url": 42}, {}, {"url": "https://"},
    {"url": "https://a b.com"}, {"url": "https://x.io/" + "a" * 2048}, {"url": "http://[::1"},
    {"url": "javascript:alert(1)"}, ["https://example.com"]])
def test_invalid_input_is_422_without_a_safety_call(api: Client, safety: FakeSafety, body: object) -> None:
    response = api.post("/v1/links", body, content_type="application/json", **KEY)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"
    assert safety.asked == []


def test_a_body_that_is_not_json_is_422(api: Client) -> None:
    assert api.post("/v1/links", b"nope", content_type="application/json", **KEY).status_code == 422


@pytest.mark.parametrize("headers", [{}, {"HTTP_X_API_KEY": ""}, {"HTTP_X_API_KEY": "with space"}])
def test_an_api_key_is_required(api: Client, headers: dict[str, str]) -> None:
    response = api.post("/v1/links", {"url": "https://example.com"}, content_type="application/json", **headers)
    assert response.status_code == 401


def test_unsafe_is_422_and_verdicts_are_cached(api: Client, safety: FakeSafety) -> None:
    safety.handler = lambda request: httpx.Response(200, json={"safe": False})
    for _ in range(2):
        response = api.post("/v1/links", {"url": "https://evil.example"}, content_type="application/json", **KEY)
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "unsafe_url"
    assert safety.asked == ["https://evil.example"]


def test_timeouts_and_5xx_are_retried(api: Client, safety: FakeSafety) -> None:
    answers: list[httpx.Response | Exception] = [httpx.ConnectTimeout("slow"), httpx.Response(503),
                                                 httpx.Response(200, json={"safe": True})]

    def flaky(request: httpx.Request) -> httpx.Response:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    safety.handler = flaky
    response = api.post("/v1/links", {"url": "https://example.com/d"}, content_type="application/json", **KEY)
    assert response.status_code == 201
    assert len(safety.asked) == 3


@pytest.mark.parametrize("answer", [httpx.Response(500), httpx.Response(200, json={"safe": "yes"}),
                                    httpx.Response(200, text="not json"), httpx.Response(400)])
def test_no_verdict_is_503_with_retry_after(api: Client, safety: FakeSafety, answer: httpx.Response) -> None:
    safety.handler = lambda request: answer
    response = api.post("/v1/links", {"url": "https://example.com/e"}, content_type="application/json", **KEY)
    assert response.status_code == 503
    assert response["Retry-After"] == "5"


def test_rate_limit_is_per_key(api: Client) -> None:
    for number in range(5):
        response = api.post("/v1/links", {"url": f"https://e.com/{number}"}, content_type="application/json", **KEY)
        assert response.status_code == 201
    refused = api.post("/v1/links", {"url": "https://e.com/x"}, content_type="application/json", **KEY)
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60
    other = api.post("/v1/links", {"url": "https://e.com/x"}, content_type="application/json", HTTP_X_API_KEY="other")
    assert other.status_code == 201
