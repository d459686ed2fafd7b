"""OpenAPI helpers shared by the routers."""

from __future__ import annotations

from typing import Any

from app.schemas import ErrorBody


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for error statuses, all documented with the error body."""
    return {status: {"model": ErrorBody} for status in statuses}
