"""Errors answered as JSON: `{"error": {"code": ..., "message": ...}}`."""

from __future__ import annotations

from django.http import JsonResponse


class ApiError(Exception):
    """An error answered with its status, code, message and headers."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}

    def response(self) -> JsonResponse:
        """The JSON response for this error."""
        return error_response(self.status, self.code, self.message, self.headers)


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JsonResponse:
    """A JSON error body with `status` and `headers`."""
    response = JsonResponse({"error": {"code": code, "message": message}}, status=status)
    for name, value in (headers or {}).items():
        response[name] = value
    return response
