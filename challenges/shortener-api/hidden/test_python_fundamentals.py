"""Correct code under concurrency and hostile input."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from _shortener import (
    api_key,
    create_link,
    wait_for_total,
)

from checks.upstream import FakeUpstream

pytestmark = pytest.mark.category("python_fundamentals")

CONCURRENT = 30


@pytest.mark.category("python_fundamentals", weight=2)
def test_concurrent_redirects_lose_no_click(client: httpx.Client, safety: FakeUpstream, base_url: str) -> None:
    link = create_link(client)

    def follow(_: int) -> int:
        with httpx.Client(base_url=base_url, timeout=30.0) as own:
            return own.get(f"/{link['code']}").status_code

    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = list(pool.map(follow, range(CONCURRENT)))
    assert statuses == [302] * CONCURRENT, f"concurrent redirects answered {sorted(set(statuses))}"
    wait_for_total(client, link["code"], CONCURRENT)


@pytest.mark.parametrize("content", [b"not json", b"[]", b'{"url": ["https://example.com"]}',
                                     b'{"url": "https://example.com/' + b"a" * 5000 + b'"}',
                                     "{\"url\": \"https://example.com/caf\u00e9/\U0001F600\"}".encode()],
                         ids=["not-json", "list", "url-list", "huge-url", "unicode"])
def test_bad_input_never_causes_a_500(client: httpx.Client, safety: FakeUpstream, content: bytes) -> None:
    response = client.post("/v1/links", content=content,
                           headers={"X-API-Key": api_key(), "Content-Type": "application/json"})
    assert response.status_code < 500, f"POST /v1/links with {content[:40]!r} answered {response.status_code}"
