"""Hello API: a tiny notes service. Flask + stdlib sqlite3.

Run: PORT=8000 DATABASE_URL=sqlite:////tmp/notes.db python -m flask --app app run --port $PORT
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

MAX_TITLE = 200
SCHEMA = """
CREATE TABLE IF NOT EXISTS notes (
    id    INTEGER PRIMARY KEY AUTOINCREMENT,
    title TEXT NOT NULL,
    body  TEXT NOT NULL DEFAULT ''
)
"""


def database_path() -> str:
    """The SQLite file named by $DATABASE_URL (`sqlite:///relative.db` or `sqlite:////abs/path.db`)."""
    url = os.environ.get("DATABASE_URL", "sqlite:///notes.db")
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        raise RuntimeError(f"DATABASE_URL must start with {prefix!r}, got {url!r}")
    return url.removeprefix(prefix)


@contextmanager
def connect() -> Iterator[sqlite3.Connection]:
    """A connection for one unit of work: committed on success, rolled back on error, always closed."""
    connection = sqlite3.connect(database_path())
    connection.row_factory = sqlite3.Row
    try:
        with connection:
            yield connection
    finally:
        connection.close()


def row_to_note(row: sqlite3.Row) -> dict[str, Any]:
    return {"id": row["id"], "title": row["title"], "body": row["body"]}


def error(status: int, message: str) -> tuple[Response, int]:
    return jsonify({"error": message}), status


class InvalidNote(Exception):
    """An invalid request body: 400 when it is not a JSON object, 422 when a field is wrong."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def validate_note(payload: Any) -> dict[str, str]:
    """The clean note in `payload`, or InvalidNote."""
    if not isinstance(payload, dict):
        raise InvalidNote(400, "request body must be a JSON object")
    title = payload.get("title")
    body = payload.get("body", "")
    if not isinstance(title, str):
        raise InvalidNote(422, "'title' is required and must be a string")
    if not 1 <= len(title) <= MAX_TITLE:
        raise InvalidNote(422, f"'title' must be 1 to {MAX_TITLE} characters long")
    if not isinstance(body, str):
        raise InvalidNote(422, "'body' must be a string")
    return {"title": title, "body": body}


def create_app() -> Flask:
    app = Flask(__name__)
    app.json.sort_keys = False  # type: ignore[attr-defined]

    with connect() as db:
        db.execute(SCHEMA)

    @app.errorhandler(InvalidNote)
    def invalid_note(exc: InvalidNote) -> tuple[Response, int]:
        return error(exc.status, exc.message)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[Response, int]:
        return error(exc.code or 500, exc.description or exc.name)

    @app.errorhandler(Exception)
    def unexpected_error(exc: Exception) -> tuple[Response, int]:
        app.logger.exception("unhandled error")
        return error(500, "internal server error")

    @app.get("/health")
    def health() -> Response:
        return jsonify({"status": "ok"})

    @app.post("/notes")
    def create_note() -> tuple[Response, int, dict[str, str]]:
        note = validate_note(request.get_json(silent=True))
        with connect() as db:
            cursor = db.execute(
                "INSERT INTO notes (title, body) VALUES (?, ?)", (note["title"], note["body"])
            )
            note_id = cursor.lastrowid
        return jsonify({"id": note_id, **note}), 201, {"Location": f"/notes/{note_id}"}

    @app.get("/notes/<int:note_id>")
    def get_note(note_id: int) -> Response | tuple[Response, int]:
        with connect() as db:
            row = db.execute("SELECT id, title, body FROM notes WHERE id = ?", (note_id,)).fetchone()
        if row is None:
            return error(404, f"note {note_id} not found")
        return jsonify(row_to_note(row))

    @app.get("/notes")
    def list_notes() -> Response:
        with connect() as db:
            rows = db.execute("SELECT id, title, body FROM notes ORDER BY id ASC").fetchall()
        return jsonify([row_to_note(row) for row in rows])

    return app


app = create_app()
