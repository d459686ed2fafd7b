"""Alembic environment: runs the migrations against DATABASE_URL with the app's async driver.

`postgresql://...` runs through asyncpg and `sqlite:///...` through aiosqlite, the drivers the app itself
uses, so no second (synchronous) database driver is needed.
"""

from __future__ import annotations

import asyncio
import os
from logging.config import fileConfig

from alembic import context
from sqlalchemy import pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from app.config import DEFAULT_DATABASE_URL, async_database_url, is_sqlite, sync_database_url
from app.models import Base

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def database_url() -> str:
    """`sqlalchemy.url` when a caller set it (the tests do), else DATABASE_URL."""
    return config.get_main_option("sqlalchemy.url") or os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL


def run_migrations_offline() -> None:
    url = database_url()
    context.configure(url=sync_database_url(url), target_metadata=target_metadata, literal_binds=True,
                      render_as_batch=is_sqlite(url))
    with context.begin_transaction():
        context.run_migrations()


def _run_migrations(connection: Connection, sqlite: bool) -> None:
    # Batch mode (copy-and-move tables) is only needed for SQLite's limited ALTER TABLE.
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=sqlite)
    with context.begin_transaction():
        context.run_migrations()


async def run_migrations_online() -> None:
    url = database_url()
    sqlite = is_sqlite(url)
    connect_args = {"timeout": 30} if sqlite else {}
    engine = create_async_engine(async_database_url(url), poolclass=pool.NullPool, connect_args=connect_args)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run_migrations, sqlite)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    asyncio.run(run_migrations_online())
