"""Fixtures: every test gets its own app on its own migrated SQLite file under tmp_path."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from app.config import Settings
from app.state import EXTENSION_KEY, AppState

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TEST_SECRET_KEY = "test-only-signing-key"
TEST_ORDERS_PER_MINUTE = 5


def migrate(url: str) -> None:
    """Apply the Alembic migrations to the database at `url` (the same scripts production runs)."""
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("sqlalchemy.url", url)
    config.attributes["configure_logging"] = False
    command.upgrade(config, "head")


@pytest.fixture(scope="session")
def migrated_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database migrated once per session; each test works on a copy."""
    path = tmp_path_factory.mktemp("template") / "app.db"
    migrate(f"sqlite:///{path}")
    return path


@pytest.fixture
def settings(tmp_path: Path, migrated_db: Path) -> Settings:
    """Settings for one test, with a fresh copy of the migrated database."""
    database = tmp_path / "app.db"
    shutil.copyfile(migrated_db, database)
    return Settings(secret_key=TEST_SECRET_KEY, database_url=f"sqlite:///{database}",
                    orders_per_minute=TEST_ORDERS_PER_MINUTE)


@pytest.fixture
def app(settings: Settings) -> Iterator[Flask]:
    """The app under test; its connections are closed afterwards."""
    application = create_app(settings)
    application.config.update(TESTING=True)
    yield application
    state(application).db.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """Flask's test client: real HTTP requests through the whole WSGI stack, without a socket."""
    return app.test_client()


def state(application: Flask) -> AppState:
    """The app's shared state (database, limiter, cursor codec)."""
    found: AppState = application.extensions[EXTENSION_KEY]
    return found
