"""The WSGI entry point: `gunicorn app.wsgi:app` (configuration from the environment)."""

from __future__ import annotations

from app import create_app
from app.config import Settings
from app.logging_setup import configure_logging

settings = Settings.from_env()
configure_logging(settings.log_level)
app = create_app(settings)
