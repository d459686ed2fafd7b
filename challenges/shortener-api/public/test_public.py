"""Public tests for shortener-api: run them with `grader check` (they reach your app over HTTP).

The grader starts your app and a fake safety service at SAFETY_API_URL for these tests.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import httpx
import pytest

from checks.upstream import FakeUpstream, UpstreamCall, UpstreamReply


@pytest.fixture
def safety(fake_upstream: Callable[..., FakeUpstream]) -> Iterator[FakeUpstream]:
    upstream = fake_upstream()
    upstream.responder = lambda call: UpstreamReply(200, {"safe": True})
    yield upstream


@pytest.mark.category("observability")
def test_health(client: httpx.Client) -> None:
    assert client.get("/health").status_code == 200


@pytest.mark.category("api_design")
def test_create_then_redirect(client: httpx.Client, safety: FakeUpstream) -> None:
    url = f"https://example.com/{uuid.uuid4().hex}"
    created = client.post("/v1/links", json={"url": url}, headers={"X-API-Key": "public-test"})
    assert created.status_code == 201, created.text
    redirect = client.get(f"/{created.json()['code']}")
    assert redirect.status_code == 302
    assert redirect.headers["location"] == url


@pytest.mark.category("api_design")
def test_unsafe_url_is_refused(client: httpx.Client, safety: FakeUpstream) -> None:
    def verdict(call: UpstreamCall) -> UpstreamReply:
        return UpstreamReply(200, {"safe": False})

    safety.responder = verdict
    response = client.post("/v1/links", json={"url": "https://example.com/bad"}, headers={"X-API-Key": "public-test"})
    assert response.status_code == 422
