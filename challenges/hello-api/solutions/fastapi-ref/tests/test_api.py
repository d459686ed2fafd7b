"""The candidate's own tests: run with `pip install -e .[dev]` (or the pinned dev deps) then `pytest`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import main


@pytest.fixture
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'test.db'}")
    with TestClient(main.app) as test_client:
        yield test_client


def test_health(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}


def test_create_get_and_list(client: TestClient) -> None:
    created = client.post("/notes", json={"title": "first", "body": "hello"})
    assert created.status_code == 201
    note = created.json()
    assert client.get(f"/notes/{note['id']}").json() == note
    second = client.post("/notes", json={"title": "second"}).json()
    assert second["body"] == ""
    assert client.get("/notes").json() == [note, second]


def test_unknown_note_is_404(client: TestClient) -> None:
    assert client.get("/notes/999").status_code == 404


@pytest.mark.parametrize("payload", [{}, {"title": ""}, {"title": 5}, {"title": "x" * 201}])
def test_invalid_notes_are_rejected(client: TestClient, payload: dict[str, object]) -> None:
    assert client.post("/notes", json=payload).status_code == 422


def test_created_note_has_its_location(client: TestClient) -> None:
    response = client.post("/notes", json={"title": "located"})
    assert response.headers["location"] == f"/notes/{response.json()['id']}"


def test_a_body_that_is_not_a_json_object_is_rejected(client: TestClient) -> None:
    response = client.post("/notes", content="[1, 2]", headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert client.get("/notes").json() == []


def test_database_url_must_be_sqlite(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://db/notes")
    with pytest.raises(RuntimeError, match="must start with"):
        main.database_path()
