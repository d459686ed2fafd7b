"""The notes API through Django's test client, on pytest-django's throwaway test database."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client, RequestFactory

from config.settings import sqlite_path
from notes import views
from notes.models import Note

pytestmark = pytest.mark.django_db


def post(client: Client, payload: Any) -> Any:
    return client.post("/notes", data=json.dumps(payload), content_type="application/json")


def test_health(client: Client) -> None:
    response = client.get("/health")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_create_returns_201_with_the_note_and_its_location(client: Client) -> None:
    response = post(client, {"title": "Buy milk", "body": "two litres"})
    assert response.status_code == 201
    note = response.json()
    assert note == {"id": note["id"], "title": "Buy milk", "body": "two litres"}
    assert response["Location"] == f"/notes/{note['id']}"


def test_body_defaults_to_empty(client: Client) -> None:
    assert post(client, {"title": "t"}).json()["body"] == ""


def test_get_returns_the_stored_note(client: Client) -> None:
    created = post(client, {"title": "read me"}).json()
    response = client.get(f"/notes/{created['id']}")
    assert (response.status_code, response.json()) == (200, created)


def test_unknown_note_is_a_json_404(client: Client) -> None:
    response = client.get("/notes/4242")
    assert (response.status_code, response.json()) == (404, {"error": "note 4242 not found"})


def test_list_is_ordered_by_id(client: Client) -> None:
    ids = [post(client, {"title": f"n{i}"}).json()["id"] for i in range(3)]
    assert [note["id"] for note in client.get("/notes").json()] == sorted(ids)


@pytest.mark.parametrize(("payload", "status"), [
    ({}, 422), ({"title": ""}, 422), ({"title": 7}, 422), ({"title": "x" * 201}, 422),
    ({"title": "ok", "body": 3}, 422), (["not", "an", "object"], 400),
])
def test_invalid_bodies_are_rejected_and_nothing_is_stored(client: Client, payload: Any, status: int) -> None:
    response = post(client, payload)
    assert response.status_code == status and "error" in response.json()
    assert Note.objects.count() == 0


def test_a_body_that_is_not_json_is_a_400(client: Client) -> None:
    response = client.post("/notes", data="{not json", content_type="application/json")
    assert response.status_code == 400 and "error" in response.json()


def test_wrong_methods_are_json_405s_with_allow(client: Client) -> None:
    for path, allowed in (("/health", "GET"), ("/notes", "GET, POST"), ("/notes/1", "GET")):
        response = client.delete(path)
        assert (response.status_code, response["Allow"]) == (405, allowed)
        assert response.json() == {"error": "method not allowed"}


def test_unknown_paths_answer_json(client: Client) -> None:
    response = client.get("/nope")
    assert (response.status_code, response.json()) == (404, {"error": "not found"})


def test_an_unexpected_error_is_a_json_500(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(note: Note) -> dict[str, object]:
        raise RuntimeError("boom")

    client = Client(raise_request_exception=False)
    post(client, {"title": "t"})
    monkeypatch.setattr(Note, "to_dict", broken)
    response = client.get("/notes")
    assert (response.status_code, response.json()) == (500, {"error": "internal server error"})


def test_bad_request_and_csrf_handlers_answer_json() -> None:
    request = RequestFactory().get("/")
    assert json.loads(views.bad_request(request).content) == {"error": "bad request"}
    assert views.csrf_failure(request).status_code == 403


def test_database_url_must_be_sqlite() -> None:
    assert sqlite_path("sqlite:////data/notes.db") == "/data/notes.db"
    with pytest.raises(RuntimeError, match="must start with"):
        sqlite_path("postgresql://db/notes")


def test_a_note_reads_as_its_title() -> None:
    assert str(Note(title="hello")) == "hello"
