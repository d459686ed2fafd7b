"""Hidden suite for hello-api: black-box HTTP tests against the candidate's running app.

Every test is independent of order and of the other tests' data: the database is shared by the whole
run, so tests make their own notes with unique titles and never assume the list is empty.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest

MAX_TITLE = 200


def unique_title(label: str = "note") -> str:
    return f"{label}-{uuid.uuid4().hex}"


def create_note(client: httpx.Client, title: str, body: str | None = None) -> dict[str, Any]:
    """Create a note and return it. Accepts any 2xx so that only the test about 201 judges the status."""
    payload: dict[str, Any] = {"title": title}
    if body is not None:
        payload["body"] = body
    response = client.post("/notes", json=payload)
    assert response.is_success, f"POST /notes answered {response.status_code}: {response.text[:300]}"
    note = response.json()
    assert isinstance(note, dict), f"POST /notes should answer the created note, got {note!r}"
    assert isinstance(note.get("id"), int) and not isinstance(note.get("id"), bool), f"bad id in {note!r}"
    return note


def list_notes(client: httpx.Client) -> list[dict[str, Any]]:
    response = client.get("/notes")
    assert response.status_code == 200, f"GET /notes answered {response.status_code}"
    notes = response.json()
    assert isinstance(notes, list), f"GET /notes should answer a JSON array, got {type(notes).__name__}"
    return notes


def assert_json(response: httpx.Response) -> None:
    content_type = response.headers.get("content-type", "")
    assert content_type.startswith("application/json"), (
        f"{response.request.method} {response.request.url.path} answered content-type {content_type!r}"
    )


def assert_json_error(response: httpx.Response, statuses: tuple[int, ...]) -> None:
    """The status is one of `statuses` and the body is a JSON object with an 'error' or 'detail' key."""
    assert response.status_code in statuses, (
        f"expected {statuses}, got {response.status_code}: {response.text[:300]}"
    )
    assert_json(response)
    body = response.json()
    assert isinstance(body, dict), f"error body should be a JSON object, got {body!r}"
    assert "error" in body or "detail" in body, f"error body should have 'error' or 'detail': {body!r}"


def assert_rejected(response: httpx.Response) -> None:
    assert_json_error(response, (400, 422))


def unknown_id(client: httpx.Client) -> int:
    """An id no note has: well past the highest id in use."""
    ids = [note["id"] for note in list_notes(client)]
    return max(ids, default=0) + 1_000_000


# --- api_design ------------------------------------------------------------------------------------


@pytest.mark.category("api_design")
def test_create_returns_201_with_note(client: httpx.Client) -> None:
    title = unique_title("created")
    response = client.post("/notes", json={"title": title, "body": "hello"})
    assert response.status_code == 201, f"POST /notes answered {response.status_code}, expected 201"
    note = response.json()
    assert isinstance(note.get("id"), int) and not isinstance(note.get("id"), bool)
    assert note["title"] == title
    assert note["body"] == "hello"


@pytest.mark.category("api_design")
def test_create_defaults_body_to_empty_string(client: httpx.Client) -> None:
    note = create_note(client, unique_title("no-body"))
    assert note.get("body") == "", f"body should default to '', got {note.get('body')!r}"


@pytest.mark.category("api_design")
def test_create_without_title_is_rejected(client: httpx.Client) -> None:
    assert_rejected(client.post("/notes", json={"body": "no title here"}))


@pytest.mark.category("api_design")
def test_create_with_non_string_title_is_rejected(client: httpx.Client) -> None:
    assert_rejected(client.post("/notes", json={"title": 12345}))
    assert_rejected(client.post("/notes", json={"title": ["a", "list"]}))


@pytest.mark.category("api_design")
def test_create_with_empty_title_is_rejected(client: httpx.Client) -> None:
    assert_rejected(client.post("/notes", json={"title": ""}))


@pytest.mark.category("api_design")
def test_create_with_title_over_200_chars_is_rejected(client: httpx.Client) -> None:
    at_limit = unique_title("max").ljust(MAX_TITLE, "x")
    assert len(at_limit) == MAX_TITLE
    accepted = client.post("/notes", json={"title": at_limit})
    assert accepted.is_success, f"a {MAX_TITLE}-char title is valid, got {accepted.status_code}"
    assert_rejected(client.post("/notes", json={"title": at_limit + "x"}))


@pytest.mark.category("api_design")
def test_create_with_malformed_json_is_rejected(client: httpx.Client) -> None:
    headers = {"content-type": "application/json"}
    assert_rejected(client.post("/notes", content=b'{"title": "unterminated', headers=headers))
    assert_rejected(client.post("/notes", content=b'["not", "an", "object"]', headers=headers))


@pytest.mark.category("api_design")
def test_get_unknown_note_returns_404_with_json_error(client: httpx.Client) -> None:
    assert_json_error(client.get(f"/notes/{unknown_id(client)}"), (404,))


@pytest.mark.category("api_design")
def test_list_returns_json_array(client: httpx.Client) -> None:
    create_note(client, unique_title("listed"))
    response = client.get("/notes")
    assert response.status_code == 200
    assert_json(response)
    notes = response.json()
    assert isinstance(notes, list) and notes, "GET /notes should answer a non-empty JSON array here"
    for note in notes:
        assert isinstance(note, dict) and {"id", "title", "body"} <= note.keys(), f"bad list item {note!r}"


@pytest.mark.category("api_design")
def test_responses_have_json_content_type(client: httpx.Client) -> None:
    created = client.post("/notes", json={"title": unique_title("ctype")})
    assert_json(created)
    assert_json(client.get(f"/notes/{created.json()['id']}"))
    assert_json(client.get("/notes"))
    assert_json(client.get(f"/notes/{unknown_id(client)}"))
    assert_json(client.post("/notes", json={"title": ""}))


# --- databases -------------------------------------------------------------------------------------


@pytest.mark.category("databases")
def test_created_note_can_be_fetched_by_id(client: httpx.Client) -> None:
    created = create_note(client, unique_title("fetch"), "some body text")
    response = client.get(f"/notes/{created['id']}")
    assert response.status_code == 200, f"GET /notes/{created['id']} answered {response.status_code}"
    fetched = response.json()
    assert {key: fetched.get(key) for key in ("id", "title", "body")} == {
        "id": created["id"],
        "title": created["title"],
        "body": "some body text",
    }


@pytest.mark.category("databases")
def test_list_contains_created_notes(client: httpx.Client) -> None:
    created = [create_note(client, unique_title(f"member{i}"), f"body {i}") for i in range(3)]
    by_id = {note["id"]: note for note in list_notes(client)}
    for note in created:
        assert note["id"] in by_id, f"note {note['id']} is missing from GET /notes"
        listed = by_id[note["id"]]
        assert (listed["title"], listed["body"]) == (note["title"], note["body"])


@pytest.mark.category("databases")
def test_list_is_ordered_by_id_ascending(client: httpx.Client) -> None:
    created = [create_note(client, unique_title(f"order{i}"))["id"] for i in range(3)]
    ids = [note["id"] for note in list_notes(client)]
    assert ids == sorted(ids), "GET /notes must be ordered by id ascending"
    positions = [ids.index(note_id) for note_id in created]
    assert positions == sorted(positions), "notes created in sequence must be listed in that sequence"


@pytest.mark.category("databases")
def test_ids_are_unique_and_increasing(client: httpx.Client) -> None:
    ids = [create_note(client, unique_title(f"seq{i}"))["id"] for i in range(5)]
    assert len(set(ids)) == len(ids), f"ids repeat: {ids}"
    assert ids == sorted(ids), f"ids should increase with each create: {ids}"


@pytest.mark.category("databases")
def test_unicode_and_special_characters_round_trip(client: httpx.Client) -> None:
    title = f"Grüße, 日本語, emoji 📝 — {uuid.uuid4().hex[:8]}"
    body = "line one\nline two\t'quoted' \"double\" ; DROP TABLE notes; -- %_ \\ null\u00a0space"
    created = create_note(client, title, body)
    assert (created["title"], created["body"]) == (title, body)
    fetched = client.get(f"/notes/{created['id']}").json()
    assert (fetched["title"], fetched["body"]) == (title, body)
    listed = {note["id"]: note for note in list_notes(client)}[created["id"]]
    assert (listed["title"], listed["body"]) == (title, body)


@pytest.mark.category("databases")
def test_many_notes_persist(client: httpx.Client) -> None:
    batch = uuid.uuid4().hex
    created = [create_note(client, f"bulk-{batch}-{i}", f"payload {i}") for i in range(50)]
    assert len({note["id"] for note in created}) == 50
    listed = {note["id"]: note for note in list_notes(client)}
    for i, note in enumerate(created):
        assert note["id"] in listed, f"note {i} of 50 (id {note['id']}) is missing from GET /notes"
        assert listed[note["id"]]["title"] == f"bulk-{batch}-{i}"
    for note in created[::7]:
        fetched = client.get(f"/notes/{note['id']}")
        assert fetched.status_code == 200 and fetched.json()["body"] == note["body"]


# --- observability ---------------------------------------------------------------------------------


@pytest.mark.category("observability")
def test_health_returns_ok_json(client: httpx.Client) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert_json(response)
    body = response.json()
    assert isinstance(body, dict) and body.get("status") == "ok", f"health body was {body!r}"


@pytest.mark.category("observability")
def test_health_answers_quickly(client: httpx.Client) -> None:
    durations = []
    for _ in range(5):
        started = time.perf_counter()
        response = client.get("/health")
        durations.append(time.perf_counter() - started)
        assert response.status_code == 200
    assert max(durations) < 1.0, f"GET /health took up to {max(durations):.2f}s; it should answer in < 1s"
