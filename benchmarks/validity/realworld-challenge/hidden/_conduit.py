"""Helpers the RealWorld hidden suite shares: unique users, the auth header, articles, spec-shaped assertions.

Written from the public RealWorld spec (endpoints, response format, error handling). Every test registers its
own users with unique names and writes articles with unique titles and tags, so tests never depend on each
other, on their order or on what the database already holds.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import httpx

PASSWORD = "Conduit-pass-7319!"  # long and uncommon: passes the usual password validators


def unique(prefix: str) -> str:
    """A short unique token made of letters and digits only (usernames are often restricted to those)."""
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def auth(token: str) -> dict[str, str]:
    """The spec's authentication header."""
    return {"Authorization": f"Token {token}"}


def register(client: httpx.Client, prefix: str = "u") -> dict[str, Any]:
    """Register a fresh user; return the `user` object of the response (with its token)."""
    username = unique(prefix)
    body = {"user": {"username": username, "email": f"{username}@example.com", "password": PASSWORD}}
    response = client.post("/api/users", json=body)
    assert response.status_code in (200, 201), (
        f"registering a user answered {response.status_code}: {response.text[:300]}")
    user: dict[str, Any] = _member(response, "user")
    assert isinstance(user.get("token"), str) and user["token"], f"registration returned no token: {user}"
    return user


def create_article(client: httpx.Client, user: dict[str, Any], tags: list[str] | None = None,
                   **fields: str) -> dict[str, Any]:
    """Create an article as `user`; return the `article` object of the response."""
    title = fields.pop("title", f"Title {unique('t')}")
    article: dict[str, Any] = {"title": title, "description": "A short description",
                               "body": "The body of the article.", **fields}
    if tags is not None:
        article["tagList"] = tags
    response = client.post("/api/articles", json={"article": article}, headers=auth(user["token"]))
    assert response.status_code in (200, 201), (
        f"creating an article answered {response.status_code}: {response.text[:300]}")
    created: dict[str, Any] = _member(response, "article")
    assert isinstance(created.get("slug"), str) and created["slug"], f"the article has no slug: {created}"
    return created


def list_articles(client: httpx.Client, token: str | None = None, path: str = "/api/articles",
                  **params: str | int) -> dict[str, Any]:
    """GET a list of articles; return the whole body (articles and articlesCount)."""
    response = client.get(path, params=params, headers=auth(token) if token else {})
    assert response.status_code == 200, f"GET {path} {params} answered {response.status_code}: {response.text[:300]}"
    body: dict[str, Any] = response.json()
    assert isinstance(body.get("articles"), list), f"no `articles` list in {str(body)[:300]}"
    return body


def slugs(body: dict[str, Any]) -> list[str]:
    """The slugs of a list response, in order."""
    return [article["slug"] for article in body["articles"]]


def assert_status(response: httpx.Response, *expected: int) -> None:
    """The response has one of the expected status codes (with the body in the message when not)."""
    assert response.status_code in expected, (
        f"{response.request.method} {response.request.url.path} answered {response.status_code}, "
        f"expected {' or '.join(map(str, expected))}: {response.text[:300]}")


def assert_validation_error(response: httpx.Response) -> None:
    """The spec's validation failure: 422 with an `errors` object."""
    assert_status(response, 422)
    try:
        body = response.json()
    except ValueError:
        raise AssertionError(f"the 422 body is not JSON: {response.text[:200]}") from None
    assert isinstance(body, dict) and isinstance(body.get("errors"), dict), (
        f"a 422 must carry {{\"errors\": {{...}}}}, got {str(body)[:300]}")


def parse_timestamp(value: Any) -> datetime:
    """An ISO 8601 date-time, as the spec's `createdAt`/`updatedAt` are."""
    assert isinstance(value, str), f"not a timestamp string: {value!r}"
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _member(response: httpx.Response, key: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise AssertionError(f"the response is not JSON: {response.text[:200]}") from None
    assert isinstance(body, dict) and isinstance(body.get(key), dict), (
        f"the response is not wrapped as {{\"{key}\": {{...}}}}: {str(body)[:300]}")
    member: dict[str, Any] = body[key]
    return member
