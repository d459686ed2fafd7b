"""Query parameters shared by the list endpoints: pagination and timestamps."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Query

from app.errors import ValidationFailed
from app.pagination import DEFAULT_LIMIT, MAX_LIMIT


@dataclass(frozen=True)
class PageParams:
    """`limit` (1-100) and the opaque `cursor` of a list request."""

    limit: int
    cursor: str | None


def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page.")] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page.")] = None,
) -> PageParams:
    """FastAPI dependency: pagination parameters, validated."""
    return PageParams(limit=limit, cursor=cursor)


def parse_timestamp(raw: str | None, name: str) -> datetime | None:
    """An ISO 8601 timestamp as naive UTC (no offset means UTC); ValidationFailed when unparsable."""
    if raw is None:
        return None
    text = raw.strip()
    if " " in text[11:]:  # a `+hh:mm` offset whose `+` was decoded as a space in the query string
        text = text[:11] + text[11:].replace(" ", "+")
    try:
        value = datetime.fromisoformat(text)
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    except (ValueError, OverflowError):
        raise ValidationFailed(f"{name} is not an ISO 8601 timestamp: {raw!r}") from None
