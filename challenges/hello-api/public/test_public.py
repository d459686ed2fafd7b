"""Public tests for hello-api: the happy path, run over HTTP against your running app.

The grader runs them with its pytest plugin, which provides the `client` fixture (an httpx.Client bound
to your app's base URL, set with `--app-url`). A larger hidden suite, run the same way, also checks
status codes, validation, error bodies, ordering and persistence as described in the README.
"""

from __future__ import annotations

import uuid

import httpx
import pytest


@pytest.mark.category("observability")
def test_health(client: httpx.Client) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


@pytest.mark.category("api_design")
def test_create_note(client: httpx.Client) -> None:
    title = f"public-{uuid.uuid4().hex}"
    response = client.post("/notes", json={"title": title, "body": "Remember the milk"})
    assert response.is_success
    note = response.json()
    assert isinstance(note["id"], int)
    assert note["title"] == title
    assert note["body"] == "Remember the milk"


@pytest.mark.category("databases")
def test_get_note(client: httpx.Client) -> None:
    title = f"public-{uuid.uuid4().hex}"
    created = client.post("/notes", json={"title": title}).json()
    response = client.get(f"/notes/{created['id']}")
    assert response.status_code == 200
    note = response.json()
    assert (note["id"], note["title"], note["body"]) == (created["id"], title, "")


@pytest.mark.category("databases")
def test_list_notes(client: httpx.Client) -> None:
    title = f"public-{uuid.uuid4().hex}"
    created = client.post("/notes", json={"title": title}).json()
    response = client.get("/notes")
    assert response.status_code == 200
    notes = response.json()
    assert isinstance(notes, list)
    assert any(note["id"] == created["id"] and note["title"] == title for note in notes)
