"""Each test gets its own app on its own temporary SQLite file.

`app.py` builds an app when it is imported, so DATABASE_URL points at a scratch file before that happens:
the project directory may be read-only.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient

os.environ["DATABASE_URL"] = f"sqlite:///{tempfile.mkdtemp(prefix='notes-import-')}/notes.db"
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import app as notes  # noqa: E402  (after DATABASE_URL is set)


@pytest.fixture
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FlaskClient]:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'notes.db'}")
    yield notes.create_app().test_client()
