"""gunicorn settings: one process, threads for concurrency, JSON logs, nothing written outside /tmp."""

from __future__ import annotations

import os

from app.logging_setup import logging_config

bind = [f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"]
# One process: the order rate limit lives in memory. 8 threads, 8 pooled database connections (app.db).
workers = 1
worker_class = "gthread"
threads = 8
timeout = 30
graceful_timeout = 10
worker_tmp_dir = "/tmp"  # noqa: S108 - the code directory is read-only; /tmp is the writable scratch space
control_socket_disable = True
accesslog = None  # the app logs every request itself, with its request id
errorlog = "-"
logconfig_dict = logging_config(os.environ.get("LOG_LEVEL", "INFO").upper())
