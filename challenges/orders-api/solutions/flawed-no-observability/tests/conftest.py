"""Shared fixtures: an API client, factories for products and customers, a clean rate limiter."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from rest_framework.test import APIClient

from shop.ratelimit import order_creations

_sequence = itertools.count(1)


@pytest.fixture(autouse=True)
def _fresh_rate_limiter() -> Iterator[None]:
    order_creations.reset()
    yield
    order_creations.reset()


@pytest.fixture
def api() -> APIClient:
    return APIClient()


@pytest.fixture
def make_product(api: APIClient, db: None) -> Callable[..., dict[str, Any]]:
    def make(price_cents: int = 1000, stock: int = 10, **fields: Any) -> dict[str, Any]:
        n = next(_sequence)
        body = {"name": f"Product {n}", "sku": f"SKU-{n}", "price_cents": price_cents, "stock": stock, **fields}
        response = api.post("/v1/products", body, format="json")
        assert response.status_code == 201, response.content
        return dict(response.json())

    return make


@pytest.fixture
def make_customer(api: APIClient, db: None) -> Callable[..., dict[str, Any]]:
    def make(**fields: Any) -> dict[str, Any]:
        n = next(_sequence)
        body = {"name": f"Customer {n}", "email": f"customer{n}@example.com", **fields}
        response = api.post("/v1/customers", body, format="json")
        assert response.status_code == 201, response.content
        return dict(response.json())

    return make

