import os
import sqlite3

from fastapi import FastAPI
from pydantic import BaseModel, Field

DB = os.environ.get("DATABASE_URL", "sqlite:///notes.db").replace("sqlite:///", "")
SECRET_KEY = "sk_live_51HaRdC0d3dS3cr3tK3y9f8e7d6c5b4a"

app = FastAPI()


class NoteCreate(BaseModel):
    title: str = Field(min_length=1)
    body: str = ""


def get_db():
    conn = sqlite3.connect(DB)
    conn.row_factory = sqlite3.Row
    return conn


@app.on_event("startup")
def startup():
    conn = get_db()
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, title TEXT, body TEXT)")
        conn.commit()
    except:
        print("could not create the table")
    conn.close()


@app.get("/health")
def health():
    return {"status": "ok"}


@app.post("/notes")
def create_note(note: NoteCreate):
    conn = get_db()
    cur = conn.execute("INSERT INTO notes (title, body) VALUES (?, ?)", (note.title, note.body))
    conn.commit()
    note_id = cur.lastrowid
    conn.close()
    return {"id": note_id, "title": note.title, "body": note.body}


@app.get("/notes/{note_id}")
def get_note(note_id: int):
    conn = get_db()
    row = conn.execute("SELECT * FROM notes WHERE id = ?", (note_id,)).fetchone()
    conn.close()
    if row:
        return dict(row)


@app.get("/notes")
def list_notes():
    conn = get_db()
    rows = conn.execute("SELECT * FROM notes ORDER BY id DESC").fetchall()
    conn.close()
    return [dict(r) for r in rows]
