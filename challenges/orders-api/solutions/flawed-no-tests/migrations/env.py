"""Alembic environment: the URL comes from DATABASE_URL (or the caller's Config), logs are JSON."""

from __future__ import annotations

import os

from alembic import context

from app.config import DEFAULT_DATABASE_URL
from app.db import create_db_engine
from app.logging_setup import configure_logging
from app.models import Base

config = context.config
if config.attributes.get("configure_logging", True):
    configure_logging()


def database_url() -> str:
    """An explicit `sqlalchemy.url` wins over DATABASE_URL."""
    return config.get_main_option("sqlalchemy.url") or os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL


def run_migrations_offline() -> None:
    """Emit the SQL instead of running it (`alembic upgrade head --sql`)."""
    context.configure(url=database_url(), target_metadata=Base.metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations against the database."""
    engine = create_db_engine(database_url())
    try:
        with engine.connect() as connection:
            context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
