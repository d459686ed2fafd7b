"""Users, authentication and profiles, as the RealWorld spec describes them."""

from __future__ import annotations

import httpx
import pytest
from _conduit import PASSWORD, assert_status, assert_validation_error, auth, register, unique

pytestmark = pytest.mark.category("api_design")


@pytest.mark.category("api_design", weight=2)
def test_registration_returns_the_user_with_a_token(client: httpx.Client) -> None:
    username = unique("reg")
    body = {"user": {"username": username, "email": f"{username}@example.com", "password": PASSWORD}}
    response = client.post("/api/users", json=body)
    assert_status(response, 200, 201)
    user = response.json()["user"]
    assert user["username"] == username
    assert user["email"] == f"{username}@example.com"
    assert isinstance(user["token"], str) and user["token"]
    assert "password" not in user, "the registration response leaks the password"


@pytest.mark.category("api_design", weight=2)
def test_login_returns_a_token_that_authenticates(client: httpx.Client) -> None:
    user = register(client)
    response = client.post("/api/users/login", json={"user": {"email": user["email"], "password": PASSWORD}})
    assert_status(response, 200)
    token = response.json()["user"]["token"]
    me = client.get("/api/user", headers=auth(token))
    assert_status(me, 200)
    assert me.json()["user"]["username"] == user["username"]


def test_login_with_a_wrong_password_is_refused(client: httpx.Client) -> None:
    user = register(client)
    response = client.post("/api/users/login", json={"user": {"email": user["email"], "password": "wrong-pass-1"}})
    assert_status(response, 401, 403, 422)
    assert "token" not in response.text, "a refused login must not return a token"


def test_registration_without_a_password_is_a_422(client: httpx.Client) -> None:
    username = unique("nopw")
    response = client.post("/api/users", json={"user": {"username": username, "email": f"{username}@example.com"}})
    assert_validation_error(response)


def test_registration_with_a_taken_username_is_refused(client: httpx.Client) -> None:
    user = register(client)
    body = {"user": {"username": user["username"], "email": f"{unique('other')}@example.com", "password": PASSWORD}}
    response = client.post("/api/users", json=body)
    assert_status(response, 400, 409, 422)


def test_current_user_without_a_token_is_a_401(client: httpx.Client) -> None:
    assert_status(client.get("/api/user"), 401)


def test_a_forged_token_is_a_401(client: httpx.Client) -> None:
    forged = "eyJhbGciOiJIUzI1NiJ9.eyJ1c2VybmFtZSI6ImFkbWluIn0.c2lnbmF0dXJlLWZvcmdlZA"
    assert_status(client.get("/api/user", headers=auth(forged)), 401, 403)


def test_updating_the_current_user_changes_bio_and_image(client: httpx.Client) -> None:
    user = register(client)
    changes = {"bio": "I like to skateboard", "image": "https://example.com/me.png"}
    response = client.put("/api/user", json={"user": changes}, headers=auth(user["token"]))
    assert_status(response, 200)
    assert {k: response.json()["user"][k] for k in changes} == changes
    again = client.get("/api/user", headers=auth(user["token"])).json()["user"]
    assert {k: again[k] for k in changes} == changes


def test_a_profile_is_public_and_unknown_profiles_are_404(client: httpx.Client) -> None:
    user = register(client)
    response = client.get(f"/api/profiles/{user['username']}")
    assert_status(response, 200)
    profile = response.json()["profile"]
    assert profile["username"] == user["username"]
    assert profile["following"] is False
    assert_status(client.get(f"/api/profiles/{unique('nobody')}"), 404)


@pytest.mark.category("api_design", weight=2)
def test_follow_and_unfollow_a_user(client: httpx.Client) -> None:
    follower, author = register(client, "fan"), register(client, "star")
    path = f"/api/profiles/{author['username']}/follow"
    followed = client.post(path, headers=auth(follower["token"]))
    assert_status(followed, 200, 201)
    assert followed.json()["profile"]["following"] is True
    seen = client.get(f"/api/profiles/{author['username']}", headers=auth(follower["token"]))
    assert seen.json()["profile"]["following"] is True
    unfollowed = client.delete(path, headers=auth(follower["token"]))
    assert_status(unfollowed, 200)
    assert unfollowed.json()["profile"]["following"] is False


def test_following_needs_authentication(client: httpx.Client) -> None:
    author = register(client)
    assert_status(client.post(f"/api/profiles/{author['username']}/follow"), 401)
