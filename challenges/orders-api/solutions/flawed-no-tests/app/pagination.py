"""Keyset pagination by id with signed, opaque cursors."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from itsdangerous import BadData, URLSafeSerializer
from sqlalchemy import Select
from sqlalchemy.orm import Session

from app.errors import ValidationFailed

DEFAULT_LIMIT = 20


class HasId(Protocol):
    """A row with an integer id (every listed model)."""

    id: Any


RowT = TypeVar("RowT", bound=HasId)


@dataclass(frozen=True, slots=True)
class PageRequest:
    """What the client asked for: how many items, after which id."""

    limit: int = DEFAULT_LIMIT
    after_id: int = 0


@dataclass(frozen=True, slots=True)
class Page(Generic[RowT]):
    """One page of rows and the id to continue after, if there is more."""

    items: Sequence[RowT]
    next_after_id: int | None


class CursorCodec:
    """Signs cursors with the app's SECRET_KEY, so a cursor the app did not issue is rejected."""

    def __init__(self, secret_key: str) -> None:
        self._serializer = URLSafeSerializer(secret_key, salt="orders-api.cursor")

    def encode(self, scope: str, after_id: int) -> str:
        """A cursor for the rows of `scope` (e.g. "orders") after `after_id`."""
        return str(self._serializer.dumps({"scope": scope, "after": after_id}))

    def decode(self, scope: str, cursor: str) -> int:
        """The id a cursor continues after; ValidationFailed when it is forged, damaged or for another list."""
        try:
            data = self._serializer.loads(cursor)
        except BadData:
            raise ValidationFailed("cursor is invalid") from None
        if not isinstance(data, dict) or data.get("scope") != scope:
            raise ValidationFailed("cursor is invalid")
        after = data.get("after")
        if type(after) is not int or after < 0:
            raise ValidationFailed("cursor is invalid")
        return after

    def page_request(self, scope: str, args: Mapping[str, str]) -> PageRequest:
        """`limit` (default 20) and `cursor` from the query string."""
        limit = DEFAULT_LIMIT
        raw_limit = args.get("limit")
        if raw_limit is not None:
            try:
                limit = int(raw_limit)
            except ValueError:
                raise ValidationFailed("limit must be an integer") from None
        cursor = args.get("cursor")
        after_id = self.decode(scope, cursor) if cursor is not None else 0
        return PageRequest(limit, after_id)

    def next_cursor(self, scope: str, page: Page[Any]) -> str | None:
        """The cursor of the next page, None on the last one."""
        return None if page.next_after_id is None else self.encode(scope, page.next_after_id)


def fetch_page(session: Session, statement: Select[RowT], id_column: Any, request: PageRequest) -> Page[RowT]:
    """Run `statement` for one page, ordered by id; one extra row tells whether another page follows."""
    rows = list(session.scalars(statement.where(id_column > request.after_id).order_by(id_column)
                                .limit(request.limit + 1)))
    if len(rows) <= request.limit:
        return Page(rows, None)
    # the extra row is where the next page starts
    return Page(rows[: request.limit], rows[-1].id)
