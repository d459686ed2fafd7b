"""Helpers shared by the services."""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import NotFound
from app.models import Base
from app.schemas import MAX_INT

M = TypeVar("M", bound=Base)


async def get_or_404(session: AsyncSession, model: type[M], ident: int, label: str, *, lock: bool = False) -> M:
    """The row with primary key `ident`, or NotFound (ids beyond the 64-bit range never exist).

    With `lock`, the row is read `FOR UPDATE` (on PostgreSQL): concurrent writers of it wait for this
    transaction to end. SQLite has no row locks and needs none: its writers take turns.
    """
    found = await session.get(model, ident, with_for_update=lock) if 0 < ident <= MAX_INT else None
    if found is None:
        raise NotFound(f"{label} {ident} not found")
    return found
