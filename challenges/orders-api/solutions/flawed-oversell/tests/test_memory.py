"""What the app keeps in memory: the product cache and the idempotency keys."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI
from httpx import AsyncClient

from app.idempotency import IdempotencyStore
from app.product_cache import ProductCache
from app.state import AppState
from tests.helpers import Json


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_product_cache_reads_each_product_once_per_ttl(
    app: FastAPI, client: AsyncClient, make_product: Callable[..., Awaitable[Json]]
) -> None:
    state: AppState = app.state.orders
    clock = FakeClock()
    cache = ProductCache(ttl=5, clock=clock)
    product = await make_product(stock=4, price_cents=250)

    first = await cache.get_many(state.db, [product["id"], 999])
    assert list(first) == [product["id"]]
    assert (first[product["id"]].stock, first[product["id"]].price_cents) == (4, 250)

    await client.patch(f"/v1/products/{product['id']}", json={"stock": 9})
    clock.now += 4
    assert (await cache.get_many(state.db, [product["id"]]))[product["id"]].stock == 4  # still cached
    clock.now += 2
    assert (await cache.get_many(state.db, [product["id"]]))[product["id"]].stock == 9  # expired, read again


async def test_product_cache_invalidate(
    app: FastAPI, client: AsyncClient, make_product: Callable[..., Awaitable[Json]]
) -> None:
    state: AppState = app.state.orders
    cache = ProductCache(clock=FakeClock())
    product = await make_product(stock=4)
    await cache.get_many(state.db, [product["id"]])
    await client.patch(f"/v1/products/{product['id']}", json={"stock": 7})
    cache.invalidate(product["id"])
    assert (await cache.get_many(state.db, [product["id"]]))[product["id"]].stock == 7


def test_idempotency_store_remembers_successful_orders() -> None:
    keys = IdempotencyStore()
    assert keys.get("k") is None
    keys.remember("k", 7, "fingerprint")
    remembered = keys.get("k")
    assert remembered is not None
    assert (remembered.order_id, remembered.fingerprint, len(keys)) == (7, "fingerprint", 1)
