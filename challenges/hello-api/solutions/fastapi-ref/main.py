"""Hello API: a tiny notes service. FastAPI + stdlib sqlite3.

Run: PORT=8000 DATABASE_URL=sqlite:////tmp/notes.db python -m uvicorn main:app --port $PORT
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Annotated

from fastapi import FastAPI, HTTPException, Response, status
from pydantic import BaseModel, ConfigDict, Field, StrictStr

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


def init_db() -> None:
    with connect() as db:
        db.execute(SCHEMA)


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    title: Annotated[StrictStr, Field(min_length=1, max_length=200)]
    body: StrictStr = ""


class Note(BaseModel):
    id: int
    title: str
    body: str


def row_to_note(row: sqlite3.Row) -> Note:
    return Note(id=row["id"], title=row["title"], body=row["body"])


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    init_db()
    yield


app = FastAPI(title="Hello API", version="1.0.0", lifespan=lifespan)


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/notes", status_code=status.HTTP_201_CREATED)
def create_note(note: NoteIn, response: Response) -> Note:
    with connect() as db:
        cursor = db.execute("INSERT INTO notes (title, body) VALUES (?, ?)", (note.title, note.body))
        note_id = cursor.lastrowid
    if note_id is None:
        raise RuntimeError("the insert returned no row id")
    response.headers["Location"] = f"/notes/{note_id}"
    return Note(id=note_id, title=note.title, body=note.body)


@app.get("/notes/{note_id}")
def get_note(note_id: int) -> Note:
    with connect() as db:
        row = db.execute("SELECT id, title, body FROM notes WHERE id = ?", (note_id,)).fetchone()
    if row is None:
        raise HTTPException(status_code=status.HTTP_404_NOT_FOUND, detail=f"note {note_id} not found")
    return row_to_note(row)


@app.get("/notes")
def list_notes() -> list[Note]:
    with connect() as db:
        rows = db.execute("SELECT id, title, body FROM notes ORDER BY id ASC").fetchall()
    return [row_to_note(row) for row in rows]
