"""The contract as clients see it: status codes, redirects, error shapes, the per-key rate limit."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from _shortener import (
    RATE_LIMIT,
    api_key,
    assert_json_error,
    check_calls,
    create_link,
    instance,
    retry_after_seconds,
    unique_url,
    unsafe_reply,
)

from checks.upstream import FakeUpstream

pytestmark = pytest.mark.category("api_design")


def test_creating_a_link_answers_201_with_its_code_and_url(client: httpx.Client, safety: FakeUpstream) -> None:
    url = unique_url()
    link = create_link(client, url)
    assert link.get("url") == url, f"the created link should echo its url, got {link!r}"


@pytest.mark.category("api_design", weight=2)
def test_a_code_redirects_with_302_to_its_url(client: httpx.Client, safety: FakeUpstream) -> None:
    url = unique_url("target")
    link = create_link(client, url)
    response = client.get(f"/{link['code']}")
    assert response.status_code == 302, f"GET /{link['code']} answered {response.status_code}, expected 302"
    assert response.headers.get("location") == url, f"Location is {response.headers.get('location')!r}, not {url!r}"


def test_unknown_code_is_a_json_404(client: httpx.Client) -> None:
    assert_json_error(client.get("/doesNotExist42"), 404)
    assert_json_error(client.get("/v1/links/doesNotExist42/stats"), 404)


@pytest.mark.parametrize("body", [
    {"url": "not a url"}, {"url": "ftp://example.com/file"}, {"url": ""}, {"url": 42}, {},
    {"url": "https://"}, {"url": "javascript:alert(1)"},
], ids=["words", "ftp", "empty", "number", "missing", "no-host", "javascript"])
def test_an_invalid_url_is_a_422_without_asking_the_safety_service(
        client: httpx.Client, safety: FakeUpstream, body: dict[str, Any]) -> None:
    assert_json_error(client.post("/v1/links", json=body, headers={"X-API-Key": api_key()}), 422)
    assert not check_calls(safety), "an invalid URL was sent to the safety service: validate input first"


def test_a_missing_api_key_is_a_401(client: httpx.Client, safety: FakeUpstream) -> None:
    assert_json_error(client.post("/v1/links", json={"url": unique_url()}), 401)


@pytest.mark.category("api_design", weight=2)
def test_an_unsafe_url_is_a_422_and_creates_nothing(client: httpx.Client, safety: FakeUpstream) -> None:
    safety.responder = unsafe_reply
    url = unique_url("malware")
    assert_json_error(client.post("/v1/links", json={"url": url}, headers={"X-API-Key": api_key()}), 422)
    assert len(check_calls(safety)) == 1, f"expected one safety check, saw {len(check_calls(safety))}"


@pytest.mark.category("api_design", weight=2)
def test_the_rate_limit_answers_429_with_retry_after_per_key(replicas: list[str], safety: FakeUpstream) -> None:
    key = api_key()
    with instance(replicas[0]) as http:  # the contract on one instance; sharing it is test_infrastructure's
        for number in range(1, RATE_LIMIT + 1):
            response = http.post("/v1/links", json={"url": unique_url()}, headers={"X-API-Key": key})
            assert response.status_code == 201, f"link {number} of {RATE_LIMIT} per minute: {response.status_code}"
        refused = http.post("/v1/links", json={"url": unique_url()}, headers={"X-API-Key": key})
        assert_json_error(refused, 429)
        retry_after_seconds(refused)
        create_link(http, key=api_key())  # another key has its own budget
