"""Settings for the test suite: the real settings, with a throwaway signing key and a temporary SQLite database.

The real settings refuse to load without SECRET_KEY, so this module sets one first (tests never need a
real secret). The test database is a file in the system temp dir, not in memory: the concurrency test
runs real threads, each with its own connection, against the same database. Nothing is written next to
the code.
"""

import os
import tempfile
from pathlib import Path

os.environ.setdefault("SECRET_KEY", "tests-only-not-a-secret")

from config import env
from config import settings as base  # noqa: E402 (needs the environment above)

# What `from config.settings import *` would do, without a star import: every setting, by name.
globals().update({name: value for name, value in vars(base).items() if name.isupper()})

# The suite runs on SQLite whatever DATABASE_URL says, so it needs no database server.
DATABASES = {"default": env.sqlite_database("sqlite:///:memory:")}
DATABASES["default"]["TEST"] = {
    "NAME": str(Path(tempfile.gettempdir()) / f"orders-api-tests-{os.getpid()}.sqlite3"),
}
