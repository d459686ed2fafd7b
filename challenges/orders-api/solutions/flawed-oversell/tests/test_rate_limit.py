"""The per-customer rate limit of `POST /v1/orders`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from fastapi import FastAPI
from httpx import AsyncClient

from app.ratelimit import SlidingWindowLimiter
from tests.helpers import Json, error_code, order_body

LIMIT = 3


@pytest.fixture
def orders_per_minute() -> int:
    return LIMIT


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(app.state.orders.limiter, "_clock", fake)
    return fake


async def test_limit_counts_rejected_orders_and_says_when_to_retry(
    client: AsyncClient, clock: FakeClock, make_product: Callable[..., Awaitable[Json]],
    make_customer: Callable[[], Awaitable[Json]],
) -> None:
    product, customer, other = await make_product(stock=2), await make_customer(), await make_customer()
    statuses = []
    for quantity in (1, 5, 5):
        statuses.append((await client.post("/v1/orders", json=order_body(customer, (product, quantity)))).status_code)
        clock.now += 10
    assert statuses == [201, 409, 409]

    limited = await client.post("/v1/orders", json=order_body(customer, (product, 1)))
    assert limited.status_code == 429
    assert error_code(limited) == "rate_limited"
    assert limited.headers["Retry-After"] == "30"  # the first hit leaves the window 60 s after it was made
    assert (await client.post("/v1/orders", json=order_body(other, (product, 5)))).status_code == 409

    clock.now += 30
    assert (await client.post("/v1/orders", json=order_body(customer, (product, 5)))).status_code == 409


async def test_idempotent_replays_are_not_counted(
    client: AsyncClient, clock: FakeClock, make_product: Callable[..., Awaitable[Json]],
    make_customer: Callable[[], Awaitable[Json]],
) -> None:
    product, customer = await make_product(stock=10), await make_customer()
    body, headers = order_body(customer, (product, 1)), {"Idempotency-Key": "replayed"}
    for _ in range(LIMIT + 2):
        assert (await client.post("/v1/orders", json=body, headers=headers)).status_code == 201
    for _ in range(LIMIT - 1):
        assert (await client.post("/v1/orders", json=body)).status_code == 201
    assert (await client.post("/v1/orders", json=body)).status_code == 429


def test_limiter_window_slides() -> None:
    clock = FakeClock()
    limiter = SlidingWindowLimiter(limit=2, window=60, clock=clock)
    assert limiter.hit(1) is None
    clock.now += 59.5
    assert limiter.hit(1) is None
    assert limiter.hit(1) == 1  # 0.5 s left, rounded up to a whole second
    clock.now += 0.5
    assert limiter.hit(1) is None
    assert limiter.hit(2) is None
