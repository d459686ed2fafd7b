"""Malformed input is refused with a client error, never a crash (a 500 or a stack trace)."""

from __future__ import annotations

import httpx
import pytest
from _conduit import auth, register

pytestmark = pytest.mark.category("python_fundamentals")

MALFORMED = [
    ("not-json", b"{not json"),
    ("a-json-list", b"[1, 2]"),
    ("user-is-a-string", b'{"user": "alice"}'),
    ("email-is-a-number", b'{"user": {"username": "x1", "email": 12, "password": "Conduit-pass-7319!"}}'),
]


@pytest.mark.parametrize(("case", "payload"), MALFORMED, ids=[case for case, _ in MALFORMED])
def test_malformed_registration_is_a_client_error(client: httpx.Client, case: str, payload: bytes) -> None:
    response = client.post("/api/users", content=payload, headers={"content-type": "application/json"})
    assert 400 <= response.status_code < 500, f"{case}: answered {response.status_code}: {response.text[:200]}"
    assert "Traceback" not in response.text, f"{case}: the response shows a stack trace"


def test_an_article_whose_tag_list_is_not_a_list_is_a_client_error(client: httpx.Client) -> None:
    author = register(client)
    body = {"article": {"title": "T", "description": "d", "body": "b", "tagList": 5}}
    response = client.post("/api/articles", json=body, headers=auth(author["token"]))
    assert 400 <= response.status_code < 500, f"answered {response.status_code}: {response.text[:200]}"
