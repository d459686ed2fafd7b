"""Opaque, signed cursors for keyset pagination (`id > last id`)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Sequence
from typing import Any, Protocol

from sqlalchemy.orm import Mapped

from app.errors import ValidationFailed


class HasId(Protocol):
    """A row with an integer id (what keyset pagination orders by)."""

    id: Mapped[int]


DEFAULT_LIMIT = 20
MAX_LIMIT = 100


class CursorCodec:
    """Encodes "after id N in list L" as `payload.signature`, signed with HMAC-SHA256 and SECRET_KEY.

    A cursor your app did not issue (tampered, truncated, from another list) is rejected with a 422.
    """

    def __init__(self, secret_key: str) -> None:
        self._key = hashlib.sha256(b"cursor:" + secret_key.encode()).digest()

    def _sign(self, payload: bytes) -> str:
        digest = hmac.new(self._key, payload, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def encode(self, scope: str, last_id: int) -> str:
        """The cursor of the page that starts after `last_id` in the list `scope`."""
        payload = json.dumps({"s": scope, "after": last_id}, separators=(",", ":")).encode()
        body = base64.urlsafe_b64encode(payload).rstrip(b"=").decode()
        return f"{body}.{self._sign(payload)}"

    def decode(self, scope: str, cursor: str) -> int:
        """The id a cursor points after; ValidationFailed for anything this app did not issue."""
        body, _, signature = cursor.partition(".")
        try:
            payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        except (binascii.Error, ValueError):
            raise ValidationFailed("invalid cursor") from None
        if not signature or not hmac.compare_digest(signature.encode(), self._sign(payload).encode()):
            raise ValidationFailed("invalid cursor")
        data = json.loads(payload)
        if data.get("s") != scope:
            raise ValidationFailed("this cursor belongs to another list")
        return int(data["after"])

    def page(self, scope: str, rows: Sequence[HasId], limit: int) -> dict[str, Any]:
        """The response body for `rows`, fetched with `limit + 1` so a next page shows as an extra row."""
        items = list(rows[:limit])
        has_more = len(rows) > limit
        return {"items": items, "next_cursor": self.encode(scope, items[-1].id) if has_more else None}
