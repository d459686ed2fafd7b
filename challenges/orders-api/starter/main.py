"""Orders API starter: a FastAPI app that answers its liveness check, and nothing else yet.

Run: SECRET_KEY=dev DATABASE_URL=postgresql://app:app@localhost:5432/shop PORT=8000 python -m uvicorn main:app --port 8000
Build the API described in the assignment README on top of it (or start over with Flask or Django).
"""

from __future__ import annotations

from fastapi import FastAPI

app = FastAPI(title="Orders API")


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


# TODO: /ready, /v1/products, /v1/customers, /v1/orders, /v1/reports/revenue, request ids, JSON logs,
# migrations, tests. See README.md for the contract.
