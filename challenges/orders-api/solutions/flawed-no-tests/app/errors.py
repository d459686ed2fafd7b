"""API errors and the handlers that turn every failure into `{"error": {"code", "message"}}`."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, g, jsonify
from werkzeug.exceptions import HTTPException

logger = logging.getLogger(__name__)

# Werkzeug's own HTTP errors (routing, method, size limits) and the code each one gets.
HTTP_ERROR_CODES = {400: "validation_error", 404: "not_found", 405: "method_not_allowed", 500: "internal_error"}


class ApiError(Exception):
    """An error the API answers on purpose; subclasses fix the status and the code."""

    status = 500
    code = "internal_error"

    def __init__(self, message: str, *, details: Any = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        self.headers = headers or {}


class BadRequest(ApiError):
    """The body is not JSON at all."""

    status = 400
    code = "validation_error"


class ValidationFailed(ApiError):
    """The body, a query parameter or a reference (customer, product) is invalid."""

    status = 422
    code = "validation_error"


class NotFound(ApiError):
    """The resource named in the path does not exist."""

    status = 404
    code = "not_found"


class Conflict(ApiError):
    """A uniqueness or state conflict (SKU or email taken, order already cancelled)."""

    status = 409
    code = "conflict"


class InsufficientStock(ApiError):
    """An order line asks for more than is in stock."""

    status = 409
    code = "insufficient_stock"


class IdempotencyConflict(ApiError):
    """An idempotency key was reused with a different body."""

    status = 409
    code = "idempotency_conflict"


class RateLimited(ApiError):
    """Too many orders for one customer; `Retry-After` says when to come back."""

    status = 429
    code = "rate_limited"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message, details={"retry_after_seconds": retry_after},
                         headers={"Retry-After": str(retry_after)})


class ServiceUnavailable(ApiError):
    """A dependency (the database) does not answer; the contract's codes have none closer than this one."""

    status = 503
    code = "internal_error"


def error_response(status: int, code: str, message: str, details: Any = None) -> Response:
    """The JSON error body every failure uses."""
    error: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        error["details"] = details
    response = jsonify({"error": error})
    response.status_code = status
    return response


def handle_api_error(error: ApiError) -> Response:
    """An ApiError as its JSON answer."""
    response = error_response(error.status, error.code, error.message, error.details)
    response.headers.update(error.headers)
    return response


def handle_http_exception(error: HTTPException) -> Response:
    """Werkzeug's HTTP errors (unknown path, wrong method, ...) as JSON, keeping headers such as `Allow`."""
    status = error.code or 500
    code = HTTP_ERROR_CODES.get(status, "validation_error" if status < 500 else "internal_error")
    response = error_response(status, code, error.description or error.name)
    for name, value in error.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def handle_unexpected(error: Exception) -> Response:
    """Anything else: logged with its traceback, answered with a generic 500 (never a stack trace)."""
    logger.error("unhandled error", exc_info=error, extra={"request_id": g.get("request_id")})
    return error_response(500, "internal_error", "internal server error")


def register_error_handlers(app: Flask) -> None:
    """Install the handlers on the app."""
    app.register_error_handler(ApiError, handle_api_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(Exception, handle_unexpected)
