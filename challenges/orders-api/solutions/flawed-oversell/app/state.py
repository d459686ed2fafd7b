"""What the request handlers share, built once per app and reached through a dependency."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from app.config import Settings
from app.db import Database
from app.idempotency import IdempotencyStore
from app.pagination import CursorCodec
from app.product_cache import ProductCache
from app.ratelimit import SlidingWindowLimiter


@dataclass
class AppState:
    """The settings, the database, the cursor codec, and what the app keeps in memory: the order rate
    limiter, the idempotency keys and recently read products."""

    settings: Settings
    db: Database
    cursors: CursorCodec
    limiter: SlidingWindowLimiter
    idempotency_keys: IdempotencyStore
    product_cache: ProductCache

    @classmethod
    def build(cls, settings: Settings) -> AppState:
        """Everything the handlers need, from the settings."""
        return cls(
            settings=settings,
            db=Database(settings.database_url),
            cursors=CursorCodec(settings.secret_key),
            limiter=SlidingWindowLimiter(settings.orders_per_minute),
            idempotency_keys=IdempotencyStore(),
            product_cache=ProductCache(),
        )


def get_state(request: Request) -> AppState:
    """FastAPI dependency: the state of the app serving this request."""
    state: AppState = request.app.state.orders
    return state


State = Annotated[AppState, Depends(get_state)]
