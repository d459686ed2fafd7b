"""The FastAPI application: `uvicorn --factory app.main:create_app`."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app.config import Settings
from app.errors import EXCEPTION_HANDLERS
from app.logging_setup import configure_logging
from app.middleware import RequestContextMiddleware
from app.routes import customers, health, orders, products, reports
from app.state import AppState

logger = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app. Without `settings` (how uvicorn starts it) logging is set up and the settings are
    read from the environment; tests pass their own."""
    if settings is None:
        configure_logging()
        settings = Settings.from_env()
    state = AppState.build(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await state.db.create_tables()
        logger.info("orders api started", extra={"orders_per_minute": settings.orders_per_minute})
        yield
        await state.db.dispose()
        logger.info("orders api stopped")

    app = FastAPI(title="Orders API", version="1.0.0", lifespan=lifespan, exception_handlers=EXCEPTION_HANDLERS)
    app.state.orders = state
    app.add_middleware(RequestContextMiddleware)
    for module in (health, products, customers, orders, reports):
        app.include_router(module.router)
    return app
