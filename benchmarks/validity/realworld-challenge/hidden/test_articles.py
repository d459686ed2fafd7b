"""Articles, favorites, comments and tags, as the RealWorld spec describes them."""

from __future__ import annotations

import httpx
import pytest
from _conduit import (
    assert_status,
    assert_validation_error,
    auth,
    create_article,
    parse_timestamp,
    register,
    unique,
)

pytestmark = pytest.mark.category("api_design")


@pytest.mark.category("api_design", weight=2)
def test_creating_an_article_returns_it_in_the_spec_shape(client: httpx.Client) -> None:
    author = register(client)
    tags = [unique("tag"), unique("tag")]
    title = f"How to train your dragon {unique('d')}"
    article = create_article(client, author, tags=tags, title=title)
    assert article["title"] == title
    assert article["description"] == "A short description"
    assert article["body"] == "The body of the article."
    assert sorted(article["tagList"]) == sorted(tags)
    assert article["favorited"] is False and article["favoritesCount"] == 0
    assert article["author"]["username"] == author["username"]
    parse_timestamp(article["createdAt"])
    parse_timestamp(article["updatedAt"])


@pytest.mark.category("api_design", weight=2)
def test_an_article_is_read_by_its_slug_without_authentication(client: httpx.Client) -> None:
    article = create_article(client, register(client))
    response = client.get(f"/api/articles/{article['slug']}")
    assert_status(response, 200)
    assert response.json()["article"]["title"] == article["title"]
    assert_status(client.get(f"/api/articles/{unique('no-such-slug-')}"), 404)


def test_creating_an_article_needs_authentication(client: httpx.Client) -> None:
    body = {"article": {"title": unique("t"), "description": "d", "body": "b"}}
    assert_status(client.post("/api/articles", json=body), 401)


def test_an_article_without_a_title_is_a_422(client: httpx.Client) -> None:
    author = register(client)
    body = {"article": {"description": "d", "body": "b"}}
    assert_validation_error(client.post("/api/articles", json=body, headers=auth(author["token"])))


def test_the_author_updates_an_article(client: httpx.Client) -> None:
    author = register(client)
    article = create_article(client, author)
    new_title = f"Did you train your dragon {unique('d')}"
    response = client.put(f"/api/articles/{article['slug']}", json={"article": {"title": new_title}},
                          headers=auth(author["token"]))
    assert_status(response, 200)
    updated = response.json()["article"]
    assert updated["title"] == new_title
    assert updated["body"] == article["body"], "a partial update must keep the fields it does not name"
    assert client.get(f"/api/articles/{updated['slug']}").json()["article"]["title"] == new_title


@pytest.mark.category("api_design", weight=2)
def test_another_user_may_not_update_or_delete_an_article(client: httpx.Client) -> None:
    article = create_article(client, register(client))
    intruder = register(client, "intruder")
    path = f"/api/articles/{article['slug']}"
    assert_status(client.put(path, json={"article": {"title": unique("x")}}, headers=auth(intruder["token"])), 403)
    assert_status(client.delete(path, headers=auth(intruder["token"])), 403)
    assert client.get(path).json()["article"]["title"] == article["title"]


def test_the_author_deletes_an_article(client: httpx.Client) -> None:
    author = register(client)
    article = create_article(client, author)
    path = f"/api/articles/{article['slug']}"
    assert_status(client.delete(path, headers=auth(author["token"])), 200, 204)
    assert_status(client.get(path), 404)


@pytest.mark.category("api_design", weight=2)
def test_favorite_and_unfavorite_an_article(client: httpx.Client) -> None:
    article = create_article(client, register(client))
    reader = register(client, "reader")
    path = f"/api/articles/{article['slug']}/favorite"
    favorited = client.post(path, headers=auth(reader["token"]))
    assert_status(favorited, 200, 201)
    assert favorited.json()["article"]["favorited"] is True
    assert favorited.json()["article"]["favoritesCount"] == 1
    unfavorited = client.delete(path, headers=auth(reader["token"]))
    assert_status(unfavorited, 200)
    assert unfavorited.json()["article"]["favorited"] is False
    assert unfavorited.json()["article"]["favoritesCount"] == 0


@pytest.mark.category("api_design", weight=2)
def test_comments_are_added_listed_and_deleted(client: httpx.Client) -> None:
    article = create_article(client, register(client))
    commenter = register(client, "commenter")
    path = f"/api/articles/{article['slug']}/comments"
    created = client.post(path, json={"comment": {"body": "His name was my name too."}},
                          headers=auth(commenter["token"]))
    assert_status(created, 200, 201)
    comment = created.json()["comment"]
    assert comment["body"] == "His name was my name too."
    assert comment["author"]["username"] == commenter["username"]
    listed = client.get(path)
    assert_status(listed, 200)
    assert [c["id"] for c in listed.json()["comments"]] == [comment["id"]]
    assert_status(client.delete(f"{path}/{comment['id']}", headers=auth(commenter["token"])), 200, 204)
    assert client.get(path).json()["comments"] == []


def test_another_user_may_not_delete_a_comment(client: httpx.Client) -> None:
    article = create_article(client, register(client))
    commenter, intruder = register(client, "commenter"), register(client, "intruder")
    path = f"/api/articles/{article['slug']}/comments"
    comment = client.post(path, json={"comment": {"body": "Mine."}}, headers=auth(commenter["token"])).json()["comment"]
    assert_status(client.delete(f"{path}/{comment['id']}", headers=auth(intruder["token"])), 403)
    assert [c["id"] for c in client.get(path).json()["comments"]] == [comment["id"]]


def test_tags_of_new_articles_are_listed(client: httpx.Client) -> None:
    tag = unique("tag")
    create_article(client, register(client), tags=[tag])
    response = client.get("/api/tags")
    assert_status(response, 200)
    assert tag in response.json()["tags"]
