"""`/health` (liveness, no database) and `/ready` (the database answers)."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify
from sqlalchemy.exc import SQLAlchemyError

from app.errors import ServiceUnavailable
from app.state import app_state

bp = Blueprint("health", __name__)
logger = logging.getLogger(__name__)


@bp.get("/health")
def health() -> Response:
    """The process runs."""
    return jsonify({"status": "ok"})


@bp.get("/ready")
def ready() -> Response:
    """The database answers a query; 503 otherwise."""
    try:
        app_state().db.ping()
    except SQLAlchemyError:
        logger.exception("readiness check failed: the database does not answer")
        raise ServiceUnavailable("the database does not answer") from None
    return jsonify({"status": "ready"})
