"""Domain errors and the handlers that turn every error into `{"error": {"code", "message"}}`."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

HTTP_CODES = {
    400: "validation_error",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    422: "validation_error",
    429: "rate_limited",
    503: "unavailable",
}


class ApiError(Exception):
    """An error the API answers with its own status and code."""

    status_code = 500
    code = "internal_error"

    def __init__(self, message: str, *, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = dict(headers or {})


class NotFound(ApiError):
    status_code = 404
    code = "not_found"


class ValidationFailed(ApiError):
    status_code = 422
    code = "validation_error"


class Conflict(ApiError):
    status_code = 409
    code = "conflict"


class InsufficientStock(ApiError):
    status_code = 409
    code = "insufficient_stock"


class IdempotencyConflict(ApiError):
    status_code = 409
    code = "idempotency_conflict"


class RateLimited(ApiError):
    status_code = 429
    code = "rate_limited"

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many orders, retry in {retry_after} s", headers={"Retry-After": str(retry_after)})


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    details: list[dict[str, str]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """The one error shape of the API."""
    error: dict[str, Any] = {"code": code, "message": message}
    if details:
        error["details"] = details
    return JSONResponse({"error": error}, status_code=status, headers=dict(headers or {}))


def describe_validation_errors(errors: Sequence[Any]) -> list[dict[str, str]]:
    """pydantic's errors as `{"field": "items.0.quantity", "message": ...}` (always JSON-serialisable)."""
    described = []
    for error in errors:
        location = [str(part) for part in error.get("loc", ()) if part not in ("body", "query", "path", "header")]
        described.append({"field": ".".join(location) or "body", "message": str(error.get("msg", "invalid"))})
    return described


def _is_unparsable_body(errors: Sequence[Any]) -> bool:
    """True when the body is not JSON at all (answered with 400), rather than JSON of the wrong shape."""
    for error in errors:
        if error.get("type") == "json_invalid":
            return True
        if tuple(error.get("loc", ())) == ("body",) and isinstance(error.get("input"), bytes | bytearray):
            return True
    return False


async def handle_api_error(_request: Request, exc: ApiError) -> JSONResponse:
    return error_response(exc.status_code, exc.code, exc.message, headers=exc.headers)


async def handle_validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    if _is_unparsable_body(errors):
        return error_response(400, "validation_error", "the request body is not valid JSON")
    details = describe_validation_errors(errors)
    message = "; ".join(f"{item['field']}: {item['message']}" for item in details[:3])
    return error_response(422, "validation_error", message or "invalid request", details=details)


async def handle_http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    code = HTTP_CODES.get(exc.status_code, "internal_error" if exc.status_code >= 500 else "validation_error")
    message = f"path {request.url.path} not found" if exc.status_code == 404 else str(exc.detail)
    return error_response(exc.status_code, code, message, headers=exc.headers)


ExceptionHandler = Callable[[Request, Any], Coroutine[Any, Any, Response]]

# Passed to FastAPI(exception_handlers=...); unexpected exceptions are handled by the request middleware.
EXCEPTION_HANDLERS: dict[int | type[Exception], ExceptionHandler] = {
    ApiError: handle_api_error,
    RequestValidationError: handle_validation_error,
    StarletteHTTPException: handle_http_error,
}
