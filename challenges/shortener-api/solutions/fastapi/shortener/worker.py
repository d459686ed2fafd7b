"""The Celery worker's entry point: `celery -A shortener.worker worker --pool solo --concurrency 1`.

It reads the same environment as the web process (REDIS_URL for the broker, DATABASE_URL for the counts,
the OTEL_* variables for traces), logs JSON like it, and opens the click store when the worker starts.
SIGTERM is Celery's warm shutdown: the task in hand finishes (and is acknowledged), then it exits; the other
messages stay in the queue.
"""

from __future__ import annotations

import logging
from typing import Any

from celery.signals import setup_logging, worker_init, worker_shutdown

from shortener import tasks
from shortener.config import load_settings
from shortener.logging_setup import configure_logging
from shortener.telemetry import flush_traces, setup_tracing

logger = logging.getLogger("shortener.worker")
settings = load_settings()
tasks.use_broker(settings.redis_url)
app = tasks.celery_app  # what `celery -A shortener.worker` looks for


def _json_logs(**_: Any) -> None:
    """Replace Celery's own log setup with the app's JSON lines on stdout."""
    configure_logging()


def _open_store(**_: Any) -> None:
    setup_tracing()
    tasks.use_database(settings.database_url)
    logger.info("click worker started", extra={"queue": tasks.QUEUE})


def _close_store(**_: Any) -> None:
    tasks.close_database()
    flush_traces()
    logger.info("click worker stopped")


# Connected by call rather than as decorators: Celery's signals are untyped. weak=False: kept for the process.
setup_logging.connect(_json_logs, weak=False)
worker_init.connect(_open_store, weak=False)
worker_shutdown.connect(_close_store, weak=False)
