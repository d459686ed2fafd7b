"""What the app shares between requests, kept on `app.extensions`."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from app.config import Settings
from app.db import Database
from app.pagination import CursorCodec
from app.ratelimit import SlidingWindowLimiter

EXTENSION_KEY = "orders_api"


@dataclass(frozen=True, slots=True)
class AppState:
    """The settings, the database, the cursor signer and the order rate limiter of one app."""

    settings: Settings
    db: Database
    cursors: CursorCodec
    order_limiter: SlidingWindowLimiter


def app_state() -> AppState:
    """The state of the app handling the current request."""
    state: AppState = current_app.extensions[EXTENSION_KEY]
    return state
