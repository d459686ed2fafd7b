"""Every error leaves the service as `{"error": {"code": ..., "message": ..., "details"?: ...}}`.

Domain code raises an ApiError subclass; `api_exception_handler` turns it (and DRF's own exceptions) into
that body, and the Django handlers do the same for what never reaches a view (unknown paths, crashes).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import SuspiciousOperation
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions as drf

CODES_BY_STATUS = {
    400: "validation_error",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
}


class ApiError(Exception):
    """An error answer: HTTP status, stable machine-readable code, human message, optional details."""

    status_code = 400
    code = "validation_error"

    def __init__(self, message: str, details: Any = None, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        self.headers = dict(headers or {})


class MalformedRequest(ApiError):
    """The body is not JSON at all."""

    status_code = 400


class ValidationFailed(ApiError):
    """The body or the query is JSON but breaks the contract, or names something that does not exist."""

    status_code = 422


class NotFound(ApiError):
    """The resource in the path does not exist."""

    status_code = 404
    code = "not_found"


class Conflict(ApiError):
    """A unique value is taken, or the resource is not in a state that allows the action."""

    status_code = 409
    code = "conflict"


class InsufficientStock(Conflict):
    """An order line asks for more than is in stock."""

    code = "insufficient_stock"


class IdempotencyConflict(Conflict):
    """An idempotency key is reused with another body."""

    code = "idempotency_conflict"


class RateLimited(ApiError):
    """Too many order creations for one customer."""

    status_code = 429
    code = "rate_limited"


def error_response(status: int, code: str, message: str, details: Any = None,
                   headers: Mapping[str, str] | None = None) -> JsonResponse:
    """The JSON error body every failure shares."""
    error: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        error["details"] = details
    response = JsonResponse({"error": error}, status=status)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def api_exception_handler(exc: Exception, context: Mapping[str, Any]) -> JsonResponse:
    """DRF's EXCEPTION_HANDLER: every exception a view raises becomes a JSON error body."""
    if isinstance(exc, ApiError):
        return error_response(exc.status_code, exc.code, exc.message, exc.details, exc.headers)
    if isinstance(exc, drf.ValidationError):
        return error_response(422, "validation_error", "the request body is invalid", exc.detail)
    if isinstance(exc, Http404):
        return error_response(404, "not_found", "not found")
    if isinstance(exc, drf.APIException):
        status = exc.status_code
        return error_response(status, CODES_BY_STATUS.get(status, "error"), str(exc.detail))
    if isinstance(exc, SuspiciousOperation):  # oversized body and the like
        return error_response(400, "validation_error", "bad request")
    print("unhandled error:", repr(exc))
    return error_response(500, "internal_error", "internal server error")


def bad_request(request: HttpRequest, exception: Exception) -> JsonResponse:
    """handler400: Django rejected the request before routing (bad host header...)."""
    print("bad request:", request.path, exception)
    return error_response(400, "validation_error", "bad request")


def not_found(request: HttpRequest, exception: Exception) -> JsonResponse:
    """handler404: no route matches the path."""
    return error_response(404, "not_found", f"no route for {request.path}")


def server_error(request: HttpRequest) -> JsonResponse:
    """handler500: an unhandled exception outside the API views."""
    print("server error on", request.method, request.path)
    return error_response(500, "internal_error", "internal server error")
