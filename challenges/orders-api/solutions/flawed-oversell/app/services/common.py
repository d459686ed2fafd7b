"""Helpers shared by the services."""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from app.db import Database
from app.errors import NotFound
from app.models import Base
from app.schemas import MAX_INT

M = TypeVar("M", bound=Base)


async def get_or_404(session: AsyncSession, model: type[M], ident: int, label: str) -> M:
    """The row with primary key `ident`, or NotFound (ids beyond the 64-bit range never exist)."""
    found = await session.get(model, ident) if 0 < ident <= MAX_INT else None
    if found is None:
        raise NotFound(f"{label} {ident} not found")
    return found


async def save(db: Database, row: M) -> M:
    """Insert or update one row (and what it cascades to), commit, and return it with its id."""
    async with db.session() as session:
        session.add(row)
        await session.commit()
    return row
