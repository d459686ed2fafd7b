"""Logging: one JSON object per line on stderr, for the app, gunicorn and the migrations alike."""

from __future__ import annotations

import json
import logging
import logging.config
from datetime import UTC, datetime
from typing import Any

# Attributes every LogRecord has; anything else on a record came from `extra=` and is logged as a field.
_STANDARD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """Formats a record as a single-line JSON object: time, level, logger, message and `extra` fields."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as JSON; the traceback, if any, goes in `exc_info` as text."""
        payload: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace(
                "+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        payload.update((key, value) for key, value in vars(record).items()
                       if key not in _STANDARD_ATTRIBUTES and not key.startswith("_"))
        if record.exc_info:
            payload["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str)


def logging_config(level: str = "INFO") -> dict[str, Any]:
    """A dictConfig that sends the root logger and gunicorn's loggers to stderr as JSON."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}},
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {
            "gunicorn.error": {"level": level, "handlers": ["stderr"], "propagate": False},
            # the app writes its own access log (see app.observability), with the request id
            "gunicorn.access": {"level": "WARNING", "handlers": [], "propagate": False},
            "alembic": {"level": level, "handlers": ["stderr"], "propagate": False},
        },
    }


def configure_logging(level: str = "INFO") -> None:
    """Apply `logging_config` to the running process."""
    logging.config.dictConfig(logging_config(level))
