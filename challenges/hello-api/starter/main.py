"""Hello API starter: a FastAPI app that answers its health check, and nothing else yet.

Run: PORT=8000 DATABASE_URL=sqlite:////tmp/notes.db python -m uvicorn main:app --port $PORT
Build the notes endpoints described in the assignment README on top of it.
"""

from __future__ import annotations

from fastapi import FastAPI

app = FastAPI(title="Hello API")


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


# TODO: POST /notes, GET /notes/{id} and GET /notes, stored in the SQLite database named by $DATABASE_URL.
