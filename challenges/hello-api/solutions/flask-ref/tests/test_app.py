"""The notes API over Flask's test client, and its validation on its own."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

import app as notes


def test_health(client: FlaskClient) -> None:
    response = client.get("/health")
    assert (response.status_code, response.get_json()) == (200, {"status": "ok"})


def test_create_returns_201_with_the_note_and_its_location(client: FlaskClient) -> None:
    response = client.post("/notes", json={"title": "Buy milk", "body": "two litres"})
    assert response.status_code == 201
    note = response.get_json()
    assert note == {"id": note["id"], "title": "Buy milk", "body": "two litres"}
    assert response.headers["Location"] == f"/notes/{note['id']}"


def test_body_defaults_to_empty(client: FlaskClient) -> None:
    assert client.post("/notes", json={"title": "t"}).get_json()["body"] == ""


def test_get_returns_the_stored_note(client: FlaskClient) -> None:
    created = client.post("/notes", json={"title": "read me"}).get_json()
    response = client.get(f"/notes/{created['id']}")
    assert (response.status_code, response.get_json()) == (200, created)


def test_unknown_note_is_a_json_404(client: FlaskClient) -> None:
    response = client.get("/notes/4242")
    assert response.status_code == 404
    assert response.get_json() == {"error": "note 4242 not found"}


def test_list_is_ordered_by_id(client: FlaskClient) -> None:
    ids = [client.post("/notes", json={"title": f"n{i}"}).get_json()["id"] for i in range(3)]
    assert [note["id"] for note in client.get("/notes").get_json()] == sorted(ids)


@pytest.mark.parametrize(("payload", "status"), [
    ({}, 422), ({"title": ""}, 422), ({"title": 7}, 422), ({"title": "x" * 201}, 422),
    ({"title": "ok", "body": 3}, 422), (["not", "an", "object"], 400),
])
def test_invalid_bodies_are_rejected_and_nothing_is_stored(client: FlaskClient, payload: Any, status: int) -> None:
    response = client.post("/notes", json=payload)
    assert response.status_code == status
    assert "error" in response.get_json()
    assert client.get("/notes").get_json() == []


def test_a_body_that_is_not_json_is_a_400(client: FlaskClient) -> None:
    response = client.post("/notes", data="{not json", content_type="application/json")
    assert response.status_code == 400
    assert "error" in response.get_json()


def test_unknown_paths_and_methods_answer_json(client: FlaskClient) -> None:
    missing = client.get("/nope")
    assert missing.status_code == 404 and "error" in missing.get_json()
    wrong_method = client.delete("/notes")
    assert wrong_method.status_code == 405 and "error" in wrong_method.get_json()


def test_an_unexpected_error_is_a_json_500(client: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(row: Any) -> dict[str, Any]:
        raise RuntimeError("boom")

    client.post("/notes", json={"title": "t"})
    monkeypatch.setattr(notes, "row_to_note", broken)
    response = client.get("/notes")
    assert (response.status_code, response.get_json()) == (500, {"error": "internal server error"})


def test_database_url_must_be_sqlite(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://db/notes")
    with pytest.raises(RuntimeError, match="must start with"):
        notes.database_path()


def test_validate_note_keeps_only_title_and_body() -> None:
    assert notes.validate_note({"title": "t", "body": "b", "extra": 1}) == {"title": "t", "body": "b"}
