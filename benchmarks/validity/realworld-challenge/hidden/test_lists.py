"""Queries over stored data: list filters, limit/offset, most recent first, the feed, persistence."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from _conduit import PASSWORD, assert_status, auth, create_article, list_articles, register, slugs, unique

pytestmark = pytest.mark.category("databases")


@pytest.mark.category("databases", weight=2)
def test_articles_are_filtered_by_author(client: httpx.Client) -> None:
    author, other = register(client, "author"), register(client, "other")
    mine = {create_article(client, author)["slug"] for _ in range(2)}
    create_article(client, other)
    body = list_articles(client, author=author["username"])
    assert set(slugs(body)) == mine
    assert body["articlesCount"] == 2


@pytest.mark.category("databases", weight=2)
def test_articles_are_filtered_by_tag(client: httpx.Client) -> None:
    author = register(client)
    tag = unique("tag")
    tagged = create_article(client, author, tags=[tag, unique("other")])
    create_article(client, author, tags=[unique("other")])
    body = list_articles(client, tag=tag)
    assert slugs(body) == [tagged["slug"]]
    assert body["articlesCount"] == 1


def test_articles_are_filtered_by_who_favorited_them(client: httpx.Client) -> None:
    author, fan = register(client, "author"), register(client, "fan")
    liked = create_article(client, author)
    create_article(client, author)
    assert_status(client.post(f"/api/articles/{liked['slug']}/favorite", headers=auth(fan["token"])), 200, 201)
    body = list_articles(client, favorited=fan["username"])
    assert slugs(body) == [liked["slug"]]


@pytest.mark.category("databases", weight=2)
def test_limit_and_offset_page_through_the_list_with_the_total_count(client: httpx.Client) -> None:
    author = register(client)
    created = {create_article(client, author)["slug"] for _ in range(5)}
    first = list_articles(client, author=author["username"], limit=2, offset=0)
    second = list_articles(client, author=author["username"], limit=2, offset=2)
    third = list_articles(client, author=author["username"], limit=2, offset=4)
    pages = [slugs(first), slugs(second), slugs(third)]
    assert [len(page) for page in pages] == [2, 2, 1], f"pages of limit=2: {pages}"
    assert set().union(*map(set, pages)) == created, "the pages must cover every article exactly once"
    assert first["articlesCount"] == 5, "articlesCount is the total matching, not the page size"


def test_the_list_is_most_recent_first(client: httpx.Client) -> None:
    author = register(client)
    created = [create_article(client, author)["slug"] for _ in range(3)]
    assert slugs(list_articles(client, author=author["username"])) == created[::-1]


@pytest.mark.category("databases", weight=2)
def test_the_feed_holds_articles_of_followed_authors_only(client: httpx.Client) -> None:
    reader, followed, stranger = register(client, "reader"), register(client, "followed"), register(client, "stranger")
    assert_status(client.post(f"/api/profiles/{followed['username']}/follow", headers=auth(reader["token"])),
                  200, 201)
    older = create_article(client, followed)["slug"]
    newer = create_article(client, followed)["slug"]
    create_article(client, stranger)
    body = list_articles(client, reader["token"], "/api/articles/feed")
    assert slugs(body) == [newer, older]
    assert all(article["author"]["following"] is True for article in body["articles"])


def test_the_feed_needs_authentication(client: httpx.Client) -> None:
    assert_status(client.get("/api/articles/feed"), 401)


def test_favorites_are_counted_per_user(client: httpx.Client) -> None:
    article = create_article(client, register(client))
    fans = [register(client, "fan") for _ in range(3)]
    for fan in fans:
        client.post(f"/api/articles/{article['slug']}/favorite", headers=auth(fan["token"]))
    again = client.post(f"/api/articles/{article['slug']}/favorite", headers=auth(fans[0]["token"]))
    assert again.status_code < 500, f"favoriting twice answered {again.status_code}"
    fetched: dict[str, Any] = client.get(f"/api/articles/{article['slug']}").json()["article"]
    assert fetched["favoritesCount"] == 3, "each user favorites an article at most once"


@pytest.mark.category("databases", weight=2)
def test_users_and_articles_survive_an_app_restart(client: httpx.Client, restart_app: Any) -> None:
    author = register(client)
    article = create_article(client, author)
    restart_app()
    login = client.post("/api/users/login", json={"user": {"email": author["email"], "password": PASSWORD}})
    assert_status(login, 200)
    assert client.get(f"/api/articles/{article['slug']}").json()["article"]["title"] == article["title"]
