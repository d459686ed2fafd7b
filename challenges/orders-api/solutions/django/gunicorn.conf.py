"""Gunicorn settings: ONE worker process with threads.

The order rate limit lives in the memory of the process that serves the API, so there must be exactly
one; threads give concurrency, each with at most one database connection. Logs are JSON lines on stdout.
"""

import os

bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '8000')}"  # all interfaces in a container
workers = 1
worker_class = "gthread"
threads = int(os.environ.get("THREADS", "8"))
timeout = 60
graceful_timeout = 10
worker_tmp_dir = "/tmp"  # the code directory is read-only
accesslog = None  # shop.middleware writes the access log, with request ids
loglevel = "info"
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "shop.jsonlog.JsonFormatter"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout", "formatter": "json"},
    },
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": ["console"], "propagate": False},
        "gunicorn.access": {"level": "WARNING", "handlers": [], "propagate": False},
    },
}
