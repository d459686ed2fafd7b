"""Liveness and readiness probes."""

from __future__ import annotations

import logging

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from app.errors import error_response
from app.schemas import ErrorBody, Status
from app.state import State

logger = logging.getLogger(__name__)
router = APIRouter(tags=["operations"])


@router.get("/health", response_model=Status)
async def health() -> Status:
    """The process is up (no database access)."""
    return Status(status="ok")


@router.get("/ready", response_model=Status, responses={503: {"model": ErrorBody}})
async def ready(state: State) -> Status | JSONResponse:
    """The database answers a query."""
    try:
        await state.db.ping()
    except (SQLAlchemyError, OSError):
        logger.exception("readiness check failed")
        return error_response(503, "unavailable", "the database is not available")
    return Status(status="ready")
