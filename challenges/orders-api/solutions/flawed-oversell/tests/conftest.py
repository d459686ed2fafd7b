"""Each test gets the real app on its own SQLite file, driven in-process over ASGI."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient

from app.config import Settings
from app.main import create_app
from tests.helpers import Json

TEST_SIGNING_KEY = "test-only-signing-key"


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'app.db'}"


@pytest.fixture
def orders_per_minute() -> int:
    """Overridden by the rate-limit tests."""
    return 1000


@pytest.fixture
def settings(database_url: str, orders_per_minute: int) -> Settings:
    return Settings(secret_key=TEST_SIGNING_KEY, database_url=database_url, orders_per_minute=orders_per_minute)


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as http:
        yield http


@pytest.fixture
def make_product(client: AsyncClient) -> Callable[..., Awaitable[Json]]:
    async def make(stock: int = 10, price_cents: int = 1000, **fields: Any) -> Json:
        body = {"name": "Coffee beans 1kg", "sku": f"SKU-{uuid4().hex[:12]}", "price_cents": price_cents,
                "stock": stock, **fields}
        response = await client.post("/v1/products", json=body)
        assert response.status_code == 201, response.text
        return dict(response.json())

    return make


@pytest.fixture
def make_customer(client: AsyncClient) -> Callable[[], Awaitable[Json]]:
    async def make() -> Json:
        response = await client.post("/v1/customers", json={"name": "Ada", "email": f"{uuid4().hex}@example.com"})
        assert response.status_code == 201, response.text
        return dict(response.json())

    return make
