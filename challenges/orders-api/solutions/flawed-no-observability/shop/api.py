"""HTTP plumbing shared by the views: JSON bodies, query parameters, content negotiation."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from rest_framework.negotiation import BaseContentNegotiation

from shop.errors import MalformedRequest, ValidationFailed

MAX_LIMIT = 100
DEFAULT_LIMIT = 20
_DIGITS = re.compile(r"[0-9]{1,18}")
# An unencoded `+` in a query string arrives as a space: `...T10:15:00 02:00` means `+02:00`.
_SPACE_FOR_PLUS = re.compile(r"(T.*) (\d{2}(?::?\d{2})?)$")


class JsonOnlyNegotiation(BaseContentNegotiation):
    """The API only speaks JSON: answer JSON whatever the Accept header says, never 406 or HTML."""

    def select_parser(self, request: Any, parsers: Sequence[Any]) -> Any:
        return parsers[0]

    def select_renderer(self, request: Any, renderers: Sequence[Any], format_suffix: str | None = None) -> Any:
        renderer = renderers[0]
        return renderer, renderer.media_type


def read_json_body(body: bytes) -> Any:
    """The decoded JSON document of a request body, whatever its Content-Type; 400 when it is not JSON."""
    try:
        return json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise MalformedRequest("the request body is not valid JSON") from None


def optional(params: Mapping[str, str], name: str) -> str | None:
    """A query parameter's value; an empty value (`?status=`) counts as not given."""
    value = params.get(name)
    return value if value else None


def parse_limit(raw: str | None) -> int:
    """`limit`: an integer from 1 to MAX_LIMIT, DEFAULT_LIMIT when absent."""
    if raw is None:
        return DEFAULT_LIMIT
    if not _DIGITS.fullmatch(raw) or not 1 <= int(raw) <= MAX_LIMIT:
        raise ValidationFailed(f"limit must be an integer from 1 to {MAX_LIMIT}", {"limit": raw})
    return int(raw)


def parse_positive_int(name: str, raw: str) -> int:
    """A positive integer query parameter (an id)."""
    if not _DIGITS.fullmatch(raw) or int(raw) < 1:
        raise ValidationFailed(f"{name} must be a positive integer", {name: raw})
    return int(raw)


def parse_choice(name: str, raw: str, choices: Sequence[str]) -> str:
    """A query parameter limited to a few values."""
    if raw not in choices:
        raise ValidationFailed(f"{name} must be one of: {', '.join(choices)}", {name: raw})
    return raw


def parse_timestamp(name: str, raw: str) -> datetime:
    """An ISO 8601 timestamp as an aware UTC datetime; one without an offset is taken as UTC."""
    text = _SPACE_FOR_PLUS.sub(r"\1+\2", raw.strip())
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationFailed(f"{name} must be an ISO 8601 timestamp", {name: raw}) from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def format_timestamp(moment: datetime) -> str:
    """UTC ISO 8601 with a `Z`, as every timestamp in the API."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
