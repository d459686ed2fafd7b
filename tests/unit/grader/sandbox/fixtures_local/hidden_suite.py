"""A tiny hidden suite (copied as test_hidden.py): one test passes, one fails on purpose."""

from __future__ import annotations

import httpx
import pytest


@pytest.mark.category("api_design")
def test_hello(client: httpx.Client) -> None:
    response = client.get("/hello")
    assert response.status_code == 200
    assert response.json() == {"message": "hello"}


@pytest.mark.category("api_design")
def test_deliberately_fails(client: httpx.Client) -> None:
    response = client.get("/missing")
    assert response.status_code == 418, "this test fails on purpose"
