"""Orders: stock taken all or nothing, concurrency, cancellation, idempotency, listing."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from httpx import ASGITransport, AsyncClient
from sqlalchemy.exc import IntegrityError

from app.config import Settings
from app.db import Database
from app.main import create_app
from app.models import Order
from app.schemas import MAX_INT
from app.services import orders
from tests.helpers import Json, error_code, order_body

MakeProduct = Callable[..., Awaitable[Json]]
MakeCustomer = Callable[[], Awaitable[Json]]


async def stock_of(client: AsyncClient, product: Json) -> int:
    return int((await client.get(f"/v1/products/{product['id']}")).json()["stock"])


async def test_order_takes_stock_and_prices_lines(
    client: AsyncClient, make_product: MakeProduct, make_customer: MakeCustomer
) -> None:
    coffee, tea = await make_product(stock=5, price_cents=1890), await make_product(stock=5, price_cents=250)
    customer = await make_customer()
    response = await client.post("/v1/orders", json=order_body(customer, (coffee, 2), (tea, 3)))
    assert response.status_code == 201
    order = response.json()
    assert order["status"] == "placed"
    assert order["customer_id"] == customer["id"]
    assert order["items"] == [
        {"product_id": coffee["id"], "quantity": 2, "unit_price_cents": 1890, "line_total_cents": 3780},
        {"product_id": tea["id"], "quantity": 3, "unit_price_cents": 250, "line_total_cents": 750},
    ]
    assert order["total_cents"] == 4530
    assert (await stock_of(client, coffee), await stock_of(client, tea)) == (3, 2)
    assert (await client.get(f"/v1/orders/{order['id']}")).json() == order


async def test_unit_price_is_the_price_when_ordered(
    client: AsyncClient, make_product: MakeProduct, make_customer: MakeCustomer
) -> None:
    product, customer = await make_product(price_cents=100), await make_customer()
    order = (await client.post("/v1/orders", json=order_body(customer, (product, 1)))).json()
    await client.patch(f"/v1/products/{product['id']}", json={"price_cents": 999})
    assert (await client.get(f"/v1/orders/{order['id']}")).json()["items"][0]["unit_price_cents"] == 100


async def test_not_enough_stock_changes_nothing(
    client: AsyncClient, make_product: MakeProduct, make_customer: MakeCustomer
) -> None:
    plenty, scarce = await make_product(stock=10), await make_product(stock=1)
    customer = await make_customer()
    response = await client.post("/v1/orders", json=order_body(customer, (plenty, 4), (scarce, 2)))
    assert response.status_code == 409
    assert error_code(response) == "insufficient_stock"
    assert (await stock_of(client, plenty), await stock_of(client, scarce)) == (10, 1)
    assert (await client.get("/v1/orders")).json()["items"] == []


async def test_concurrent_orders_never_oversell(
    client: AsyncClient, make_product: MakeProduct, make_customer: MakeCustomer
) -> None:
    product = await make_product(stock=5)
    customers = [await make_customer() for _ in range(20)]
    responses = await asyncio.gather(
        *(client.post("/v1/orders", json=order_body(customer, (product, 1))) for customer in customers)
    )
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [201] * 5 + [409] * 15
    assert await stock_of(client, product) == 0


@pytest.mark.parametrize(
    "body",
    [
        {"customer_id": 1, "items": []},
        {"customer_id": 1, "items": [{"product_id": 1, "quantity": 0}]},
        {"customer_id": 1, "items": [{"product_id": 1, "quantity": 1001}]},
        {"customer_id": "1", "items": [{"product_id": 1, "quantity": 1}]},
        {"customer_id": 1, "items": [{"product_id": 1, "quantity": 1}, {"product_id": 1, "quantity": 2}]},
        {"customer_id": 1, "items": [{"product_id": n, "quantity": 1} for n in range(1, 52)]},
        {"items": [{"product_id": 1, "quantity": 1}]},
    ],
)
async def test_invalid_order_bodies_are_422(client: AsyncClient, body: Json) -> None:
    response = await client.post("/v1/orders", json=body)
    assert response.status_code == 422
    assert error_code(response) == "validation_error"


async def test_unknown_customer_or_product_is_422(
    client: AsyncClient, make_product: MakeProduct, make_customer: MakeCustomer
) -> None:
    product, customer = await make_product(), await make_customer()
    no_customer = await client.post("/v1/orders", json=order_body({"id": 999}, (product, 1)))
    no_product = await client.post("/v1/orders", json=order_body(customer, (product, 1), ({"id": 999}, 1)))
    assert (no_customer.status_code, no_product.status_code) == (422, 422)
    assert error_code(no_product) == "validation_error"
    assert await stock_of(client, product) == 10


async def test_cancel_puts_stock_back_once(
    client: AsyncClient, make_product: MakeProduct, make_customer: MakeCustomer
) -> None:
    product, customer = await make_product(stock=3), await make_customer()
    order = (await client.post("/v1/orders", json=order_body(customer, (product, 2)))).json()
    cancelled = await client.post(f"/v1/orders/{order['id']}/cancel")
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert await stock_of(client, product) == 3
    again = await client.post(f"/v1/orders/{order['id']}/cancel")
    assert again.status_code == 409
    assert error_code(again) == "conflict"
    assert await stock_of(client, product) == 3


async def test_unknown_order_is_404(client: AsyncClient) -> None:
    for response in (await client.get("/v1/orders/77"), await client.post("/v1/orders/77/cancel")):
        assert response.status_code == 404
        assert error_code(response) == "not_found"


async def test_idempotent_replay_returns_the_same_order(
    client: AsyncClient, make_product: MakeProduct, make_customer: MakeCustomer
) -> None:
    product, customer = await make_product(stock=5), await make_customer()
    body, headers = order_body(customer, (product, 2)), {"Idempotency-Key": "order-1"}
    first = await client.post("/v1/orders", json=body, headers=headers)
    replay = await client.post("/v1/orders", json=body, headers=headers)
    assert (first.status_code, replay.status_code) == (201, 201)
    assert replay.json() == first.json()
    assert await stock_of(client, product) == 3

    other = await client.post("/v1/orders", json=order_body(customer, (product, 1)), headers=headers)
    assert other.status_code == 409
    assert error_code(other) == "idempotency_conflict"


async def test_concurrent_requests_with_one_key_place_one_order(
    client: AsyncClient, make_product: MakeProduct, make_customer: MakeCustomer
) -> None:
    product, customer = await make_product(stock=5), await make_customer()
    body, headers = order_body(customer, (product, 1)), {"Idempotency-Key": "same"}
    responses = await asyncio.gather(*(client.post("/v1/orders", json=body, headers=headers) for _ in range(5)))
    assert {response.json()["id"] for response in responses} == {responses[0].json()["id"]}
    assert await stock_of(client, product) == 4


async def test_idempotency_survives_a_restart(
    settings: Settings, client: AsyncClient, make_product: MakeProduct, make_customer: MakeCustomer
) -> None:
    product, customer = await make_product(stock=5), await make_customer()
    body, headers = order_body(customer, (product, 1)), {"Idempotency-Key": "before-restart"}
    first = (await client.post("/v1/orders", json=body, headers=headers)).json()

    restarted = create_app(settings)  # a new process: same database, empty memory
    async with restarted.router.lifespan_context(restarted), \
            AsyncClient(transport=ASGITransport(app=restarted), base_url="http://test") as fresh:
        replay = await fresh.post("/v1/orders", json=body, headers=headers)
        assert replay.status_code == 201
        assert replay.json()["id"] == first["id"]
        assert await stock_of(fresh, product) == 4


@pytest.mark.parametrize("key", ["", "k" * 256])
async def test_bad_idempotency_key_is_422(client: AsyncClient, key: str) -> None:
    response = await client.post("/v1/orders", json={"customer_id": 1, "items": [{"product_id": 1, "quantity": 1}]},
                                 headers={"Idempotency-Key": key})
    assert response.status_code == 422


async def test_filters_and_pages_of_orders(
    client: AsyncClient, make_product: MakeProduct, make_customer: MakeCustomer
) -> None:
    product = await make_product(stock=100)
    alice, bob = await make_customer(), await make_customer()
    ids = []
    for customer in (alice, bob, alice, alice):
        ids.append((await client.post("/v1/orders", json=order_body(customer, (product, 1)))).json()["id"])
    await client.post(f"/v1/orders/{ids[2]}/cancel")

    async def listed(**params: Any) -> list[int]:
        found: list[int] = []
        cursor = None
        while True:
            query = params | {"limit": 1} | ({"cursor": cursor} if cursor else {})
            response = await client.get("/v1/orders", params=query)
            assert response.status_code == 200, response.text
            found += [order["id"] for order in response.json()["items"]]
            cursor = response.json()["next_cursor"]
            if cursor is None:
                return found

    assert await listed() == ids
    assert await listed(customer_id=alice["id"]) == [ids[0], ids[2], ids[3]]
    assert await listed(customer_id=alice["id"], status="placed") == [ids[0], ids[3]]
    assert await listed(status="cancelled") == [ids[2]]
    third = (await client.get(f"/v1/orders/{ids[2]}")).json()["created_at"]
    assert await listed(created_from=third) == ids[2:]
    assert await listed(created_to=third) == ids[:2]
    assert await listed(created_from="2000-01-01T00:00:00", created_to="2000-01-02T00:00:00+02:00") == []


@pytest.mark.parametrize("params", [{"status": "shipped"}, {"created_from": "yesterday"}, {"created_to": "2026-13-01"},
                                    {"customer_id": "abc"}, {"limit": 500}])
async def test_bad_order_filters_are_422(client: AsyncClient, params: Json) -> None:
    response = await client.get("/v1/orders", params=params)
    assert response.status_code == 422
    assert error_code(response) == "validation_error"


async def test_a_product_cursor_is_not_an_order_cursor(client: AsyncClient, make_product: MakeProduct) -> None:
    await make_product()
    await make_product()
    cursor = (await client.get("/v1/products", params={"limit": 1})).json()["next_cursor"]
    response = await client.get("/v1/orders", params={"cursor": cursor})
    assert response.status_code == 422


async def test_an_order_total_beyond_64_bits_is_422_and_takes_nothing(
    client: AsyncClient, make_product: MakeProduct, make_customer: MakeCustomer
) -> None:
    product, customer = await make_product(stock=5, price_cents=MAX_INT), await make_customer()
    response = await client.post("/v1/orders", json=order_body(customer, (product, 2)))
    assert response.status_code == 422 and error_code(response) == "validation_error"
    assert await stock_of(client, product) == 5
    assert (await client.post("/v1/orders", json=order_body(customer, (product, 1)))).status_code == 201


async def test_losing_an_idempotency_race_replays_the_winner(
    client: AsyncClient, make_product: MakeProduct, make_customer: MakeCustomer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL two requests with one new key can both pass the first look-up; the UNIQUE key makes
    the second one fail at commit, and it then answers with the first one's order."""
    product, customer = await make_product(stock=5), await make_customer()
    body, key = order_body(customer, (product, 1)), {"Idempotency-Key": "race"}
    first = await client.post("/v1/orders", json=body, headers=key)
    real_lookup = orders._order_with_key
    lookups: list[str | None] = []

    async def lookup_after_the_race(db: Database, key: str | None) -> Order | None:
        lookups.append(key)
        return None if len(lookups) == 1 else await real_lookup(db, key)

    async def lose_the_race(db: Database, request: orders.OrderRequest) -> Order:
        raise IntegrityError("INSERT INTO orders ...", {}, Exception("duplicate key value"))

    monkeypatch.setattr(orders, "_order_with_key", lookup_after_the_race)
    monkeypatch.setattr(orders, "place_order", lose_the_race)
    second = await client.post("/v1/orders", json=body, headers=key)
    assert second.status_code == 201 and second.json()["id"] == first.json()["id"]
    other_body = await client.post("/v1/orders", json=order_body(customer, (product, 2)), headers=key)
    assert other_body.status_code == 409 and error_code(other_body) == "idempotency_conflict"
    assert (await client.post("/v1/orders", json=body)).status_code == 500  # no key: nothing to replay
    assert await stock_of(client, product) == 4
