"""Orders API: the back end of a small shop (Flask, SQLAlchemy, PostgreSQL)."""

from __future__ import annotations

from flask import Flask
from flask.json.provider import DefaultJSONProvider

from app.api import catalog, health, orders, reports
from app.api.common import IdConverter
from app.config import Settings
from app.db import Database, create_db_engine
from app.errors import register_error_handlers
from app.observability import install_request_hooks
from app.pagination import CursorCodec
from app.ratelimit import SlidingWindowLimiter
from app.state import EXTENSION_KEY, AppState

MAX_BODY_BYTES = 1024 * 1024


class OrderedJSONProvider(DefaultJSONProvider):
    """JSON answers keep their fields in the documented order instead of sorting them."""

    sort_keys = False


def create_app(settings: Settings | None = None) -> Flask:
    """Build the app; without `settings` they come from the environment (ConfigError without SECRET_KEY)."""
    settings = settings or Settings.from_env()
    app = Flask(__name__, static_folder=None)
    app.config.update(MAX_CONTENT_LENGTH=MAX_BODY_BYTES)
    app.json = OrderedJSONProvider(app)
    app.url_map.converters["id"] = IdConverter
    app.url_map.strict_slashes = False
    app.extensions[EXTENSION_KEY] = AppState(
        settings=settings,
        db=Database(create_db_engine(settings.database_url)),
        cursors=CursorCodec(settings.secret_key),
        order_limiter=SlidingWindowLimiter(settings.orders_per_minute),
    )
    install_request_hooks(app)
    register_error_handlers(app)
    for blueprint in (health.bp, catalog.bp, orders.bp, reports.bp):
        app.register_blueprint(blueprint)
    return app
