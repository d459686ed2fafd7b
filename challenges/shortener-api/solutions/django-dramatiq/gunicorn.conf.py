"""gunicorn's settings: $PORT, one process of 8 threads, and the migrations applied by the master before it
forks that process (one Django start-up instead of a `manage.py migrate` process and then the server's)."""

from __future__ import annotations

import os
from typing import Any

bind = f"127.0.0.1:{os.environ.get('PORT', '8000')}"
workers = 1
threads = 8  # a slow safety check holds one thread; /health and redirects use the others
graceful_timeout = 4  # requests in flight at SIGTERM get this long to finish
wsgi_app = "config.wsgi"
MIGRATION_LOCK_ID = 7_310_001  # any number the app uses for nothing else


def on_starting(server: Any) -> None:
    """Apply the migrations (exits the server on failure) and close the connection before the fork.

    Replicas start at the same moment: an advisory lock lets one migrate while the others wait, then find
    nothing left to apply (two `CREATE TABLE`s of the same table would fail one replica's start).
    """
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django
    from django.core.management import call_command
    from django.db import connection, connections

    django.setup()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [MIGRATION_LOCK_ID])
        try:
            call_command("migrate", interactive=False, verbosity=1)
        finally:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [MIGRATION_LOCK_ID])
    connections.close_all()
