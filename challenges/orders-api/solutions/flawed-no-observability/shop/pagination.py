"""Keyset pagination by id with opaque cursors signed with SECRET_KEY.

A cursor carries the last id of the page it ends; the next page is `id > last_id ORDER BY id`, so an
item inserted or deleted meanwhile never makes another one repeat or go missing. Cursors are signed, so a
cursor this service did not issue (or one a client edited) is rejected with a 422.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.core import signing

from shop.errors import ValidationFailed

T = TypeVar("T")

_SALT = "shop.pagination.cursor"


def encode_cursor(last_id: int) -> str:
    """An opaque, signed cursor that resumes after `last_id`."""
    return signing.dumps({"after": last_id}, salt=_SALT, compress=False)


def decode_cursor(cursor: str) -> int:
    """The id a cursor resumes after; 422 for anything this service did not issue."""
    try:
        payload = signing.loads(cursor, salt=_SALT)
    except signing.BadSignature:
        raise ValidationFailed("cursor is not valid", {"cursor": cursor}) from None
    after = payload.get("after") if isinstance(payload, dict) else None
    if isinstance(after, bool) or not isinstance(after, int) or after < 0:
        raise ValidationFailed("cursor is not valid", {"cursor": cursor})
    return after


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of items and the cursor of the next page (None on the last one)."""

    items: list[T]
    next_cursor: str | None


def paginate(queryset: Any, limit: int, cursor: str | None) -> Page[Any]:
    """The page of `queryset` (any model query) that starts after `cursor`, ordered by id ascending."""
    if cursor is not None:
        queryset = queryset.filter(id__gt=decode_cursor(cursor))
    rows = list(queryset.order_by("id")[: limit + 1])
    if len(rows) > limit:
        rows = rows[:limit]
        return Page(rows, encode_cursor(rows[-1].id))
    return Page(rows, None)
