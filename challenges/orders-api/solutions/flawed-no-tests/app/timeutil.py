"""UTC timestamps: the database stores naive UTC datetimes, the API speaks ISO 8601 with `Z`."""

from __future__ import annotations

import re
from datetime import UTC, datetime

# `+00:00` in a query string that was not percent-encoded arrives as ` 00:00`.
_UNENCODED_PLUS = re.compile(r"(?<=\d) (\d{2}(?::?\d{2})?)$")


def utcnow() -> datetime:
    """The current time as a naive UTC datetime (how timestamps are stored)."""
    return datetime.now(UTC).replace(tzinfo=None)


def to_iso(value: datetime) -> str:
    """A stored (naive UTC) datetime as ISO 8601 with a `Z` suffix."""
    return value.replace(tzinfo=UTC).isoformat().replace("+00:00", "Z")


def parse_timestamp(text: str) -> datetime:
    """An ISO 8601 timestamp as a naive UTC datetime; without an offset it is taken as UTC.

    Raises ValueError when the text is not a timestamp.
    """
    candidate = text.strip()
    try:
        parsed = datetime.fromisoformat(candidate)
    except ValueError:
        repaired = _UNENCODED_PLUS.sub(r"+\1", candidate)
        if repaired == candidate:
            raise
        parsed = datetime.fromisoformat(repaired)
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed
