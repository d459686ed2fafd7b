"""The app's start-up: JSON logging and the Dramatiq broker, once per process."""

from __future__ import annotations

from django.apps import AppConfig


class ShortenerConfig(AppConfig):
    """Links, clicks and their worker."""

    name = "shortener"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Configure what every process (web, worker, tests) shares before any request or message (tracing is
        the web process's alone: config/wsgi.py)."""
        from shortener.logs import configure_logging
        from shortener.queue import install_broker

        configure_logging()
        install_broker()
