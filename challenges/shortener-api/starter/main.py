"""Shortener API starter: a FastAPI app that answers its health check, and nothing else yet."""

from __future__ import annotations

from fastapi import FastAPI

app = FastAPI(title="Shortener API")


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


# TODO: POST /v1/links (checked by the safety service at $SAFETY_API_URL), GET /{code},
# GET /v1/links/{code}/stats (clicks aggregated by a background worker), /ready, rate limit, request ids.
