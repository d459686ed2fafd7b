"""Orders over HTTP: totals, stock, cancellation, idempotency, rate limit, filters, concurrency."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.errors import IdempotencyConflict
from app.schemas import MAX_PRICE_CENTS, OrderCreate
from app.services import orders
from tests.conftest import TEST_ORDERS_PER_MINUTE, state
from tests.helpers import error_code, make_customer, make_product, order_body, place_order, stock_of


def test_order_prices_lines_and_takes_stock(client: FlaskClient) -> None:
    customer = make_customer(client)
    coffee, tea = make_product(client, price_cents=1890, stock=25), make_product(client, price_cents=450)

    order = place_order(client, customer, (coffee, 2), (tea, 3))

    assert order["status"] == "placed" and order["customer_id"] == customer["id"]
    assert order["items"] == [
        {"product_id": coffee["id"], "quantity": 2, "unit_price_cents": 1890, "line_total_cents": 3780},
        {"product_id": tea["id"], "quantity": 3, "unit_price_cents": 450, "line_total_cents": 1350},
    ]
    assert order["total_cents"] == 5130
    assert stock_of(client, coffee) == 23
    assert client.get(f"/v1/orders/{order['id']}").get_json() == order


def test_short_stock_is_a_409_and_changes_nothing(client: FlaskClient) -> None:
    customer = make_customer(client)
    plenty, scarce = make_product(client, stock=50), make_product(client, stock=2)

    response = client.post("/v1/orders", json=order_body(customer, (plenty, 5), (scarce, 3)))

    assert response.status_code == 409
    assert error_code(response) == "insufficient_stock"
    assert response.get_json()["error"]["details"] == [{"product_id": scarce["id"], "requested": 3, "available": 2}]
    assert (stock_of(client, plenty), stock_of(client, scarce)) == (50, 2)
    assert client.get("/v1/orders").get_json()["items"] == []


@pytest.mark.parametrize("case", ["no-items", "zero-quantity", "too-many", "same-product-twice", "string-quantity",
                                  "no-customer", "unknown-customer", "unknown-product", "not-an-object"])
def test_invalid_order_is_a_422_and_takes_no_stock(client: FlaskClient, case: str) -> None:
    customer, product = make_customer(client), make_product(client, stock=10)
    line = {"product_id": product["id"], "quantity": 1}
    bodies: dict[str, Any] = {
        "no-items": {"customer_id": customer["id"], "items": []},
        "zero-quantity": {"customer_id": customer["id"], "items": [{**line, "quantity": 0}]},
        "too-many": {"customer_id": customer["id"], "items": [{**line, "quantity": 1001}]},
        "same-product-twice": {"customer_id": customer["id"], "items": [line, line]},
        "string-quantity": {"customer_id": customer["id"], "items": [{**line, "quantity": "2"}]},
        "no-customer": {"items": [line]},
        "unknown-customer": {"customer_id": 999, "items": [line]},
        "unknown-product": {"customer_id": customer["id"], "items": [line, {"product_id": 999, "quantity": 1}]},
        "not-an-object": [line],
    }

    response = client.post("/v1/orders", json=bodies[case])

    assert response.status_code == 422
    assert error_code(response) == "validation_error"
    assert stock_of(client, product) == 10


def test_a_total_beyond_64_bits_is_refused(client: FlaskClient) -> None:
    customer = make_customer(client)
    first, second = (make_product(client, price_cents=MAX_PRICE_CENTS, stock=1000) for _ in range(2))

    response = client.post("/v1/orders", json=order_body(customer, (first, 1000), (second, 1000)))

    assert response.status_code == 422
    assert stock_of(client, first) == 1000


def test_cancel_puts_stock_back_once(client: FlaskClient) -> None:
    customer, product = make_customer(client), make_product(client, stock=10)
    order = place_order(client, customer, (product, 7))

    cancelled = client.post(f"/v1/orders/{order['id']}/cancel")
    again = client.post(f"/v1/orders/{order['id']}/cancel")

    assert cancelled.status_code == 200 and cancelled.get_json() == {**order, "status": "cancelled"}
    assert again.status_code == 409 and error_code(again) == "conflict"
    assert stock_of(client, product) == 10
    assert client.post("/v1/orders/999/cancel").status_code == 404


def test_idempotent_replay_returns_the_same_order_and_takes_stock_once(client: FlaskClient) -> None:
    customer, product = make_customer(client), make_product(client, stock=10)
    body = order_body(customer, (product, 3))
    reordered = {"items": body["items"], "customer_id": body["customer_id"]}

    first = client.post("/v1/orders", json=body, headers={"Idempotency-Key": "k-1"})
    second = client.post("/v1/orders", json=reordered, headers={"Idempotency-Key": "k-1"})

    assert first.status_code == second.status_code == 201
    assert second.get_json() == first.get_json()
    assert stock_of(client, product) == 7


def test_idempotency_key_with_another_body_is_a_409(client: FlaskClient) -> None:
    customer, product = make_customer(client), make_product(client, stock=10)
    client.post("/v1/orders", json=order_body(customer, (product, 1)), headers={"Idempotency-Key": "k-2"})

    response = client.post("/v1/orders", json=order_body(customer, (product, 2)), headers={"Idempotency-Key": "k-2"})

    assert response.status_code == 409 and error_code(response) == "idempotency_conflict"
    assert stock_of(client, product) == 9


@pytest.mark.parametrize("key", ["", "k" * 256])
def test_idempotency_key_must_be_1_to_255_characters(client: FlaskClient, key: str) -> None:
    customer, product = make_customer(client), make_product(client)

    response = client.post("/v1/orders", json=order_body(customer, (product, 1)), headers={"Idempotency-Key": key})

    assert response.status_code == 422


def test_concurrent_requests_with_one_key_create_one_order(app: Flask, client: FlaskClient) -> None:
    """The loser of the race on the key's unique index rolls back and replays the winner's order."""
    customer, product = make_customer(client), make_product(client, stock=10)
    data = OrderCreate.model_validate(order_body(customer, (product, 2)))
    db = state(app).db
    request = orders.IdempotencyRequest.for_body("race", order_body(customer, (product, 2)))

    first = orders.place_order(db, data, request)
    second = orders.place_order(db, data, request)  # as if it had checked for a replay before `first` committed

    assert second.order.id == first.order.id and second.status_code == 201
    assert stock_of(client, product) == 8
    with pytest.raises(IdempotencyConflict):
        orders.place_order(db, data, orders.IdempotencyRequest("race", "another-body"))


def test_rate_limit_is_per_customer_with_retry_after(client: FlaskClient) -> None:
    customer, product = make_customer(client), make_product(client, stock=100)
    replayed = {"Idempotency-Key": "replayed"}
    statuses = [client.post("/v1/orders", json=order_body(customer, (product, 1)), headers=replayed).status_code]
    statuses += [client.post("/v1/orders", json=order_body(customer, (product, 1000))).status_code
                 for _ in range(TEST_ORDERS_PER_MINUTE - 1)]  # refused for stock, still counted

    limited = client.post("/v1/orders", json=order_body(customer, (product, 1)))
    replay = client.post("/v1/orders", json=order_body(customer, (product, 1)), headers=replayed)

    assert statuses == [201] + [409] * (TEST_ORDERS_PER_MINUTE - 1)
    assert limited.status_code == 429 and error_code(limited) == "rate_limited"
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert replay.status_code == 201, "an idempotent replay is not rate limited"
    assert client.post("/v1/orders", json=order_body(make_customer(client), (product, 1))).status_code == 201


def test_rate_limit_window_slides(app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(state(app).order_limiter, "_clock", lambda: now[0])
    customer, product = make_customer(client), make_product(client, stock=100)
    for _ in range(TEST_ORDERS_PER_MINUTE):
        place_order(client, customer, (product, 1))

    now[0] += 45
    limited = client.post("/v1/orders", json=order_body(customer, (product, 1)))
    now[0] += 15
    allowed = client.post("/v1/orders", json=order_body(customer, (product, 1)))

    assert limited.status_code == 429 and limited.headers["Retry-After"] == "15"
    assert allowed.status_code == 201


def test_orders_filter_by_customer_status_and_time(client: FlaskClient) -> None:
    ada, bob, product = make_customer(client), make_customer(client), make_product(client)
    first, second = place_order(client, ada, (product, 1)), place_order(client, ada, (product, 1))
    place_order(client, bob, (product, 1))
    client.post(f"/v1/orders/{first['id']}/cancel")
    now = datetime.now(UTC)

    def ids(**query: Any) -> list[int]:
        response = client.get("/v1/orders", query_string=query)
        assert response.status_code == 200, response.get_data(as_text=True)
        return [order["id"] for order in response.get_json()["items"]]

    assert ids(customer_id=ada["id"]) == [first["id"], second["id"]]
    assert ids(customer_id=ada["id"], status="placed") == [second["id"]]
    assert ids(status="cancelled") == [first["id"]]
    assert len(ids(created_from=(now - timedelta(minutes=5)).isoformat(), created_to=(now + timedelta(minutes=5))
                   .strftime("%Y-%m-%dT%H:%M:%S"))) == 3
    assert ids(created_from=second["created_at"], customer_id=ada["id"]) == [second["id"]]
    assert ids(created_to=second["created_at"], customer_id=ada["id"]) == [first["id"]]
    assert ids(created_from=(now + timedelta(hours=1)).isoformat()) == []


@pytest.mark.parametrize("query", [{"status": "shipped"}, {"created_from": "yesterday"},
                                   {"created_to": "2026-13-45T00:00:00Z"}, {"customer_id": "abc"},
                                   {"customer_id": "0"}, {"cursor": "x"}])
def test_invalid_order_filter_is_a_422(client: FlaskClient, query: dict[str, str]) -> None:
    response = client.get("/v1/orders", query_string=query)

    assert response.status_code == 422 and error_code(response) == "validation_error"


def test_orders_are_paged_with_filters(client: FlaskClient) -> None:
    customer, product = make_customer(client), make_product(client)
    placed = [place_order(client, customer, (product, 1))["id"] for _ in range(3)]

    first = client.get("/v1/orders", query_string={"limit": 2, "customer_id": customer["id"]}).get_json()
    second = client.get("/v1/orders", query_string={"limit": 2, "customer_id": customer["id"],
                                                    "cursor": first["next_cursor"]}).get_json()
    products_cursor = client.get("/v1/products", query_string={"limit": 1, "cursor": first["next_cursor"]})

    assert [o["id"] for o in first["items"] + second["items"]] == placed
    assert second["next_cursor"] is None
    assert products_cursor.status_code == 422, "a cursor of the orders list is not valid for products"


def test_concurrent_orders_never_oversell(app: Flask) -> None:
    setup = app.test_client()
    product = make_product(setup, stock=5)
    bodies = [order_body(make_customer(setup), (product, 1)) for _ in range(20)]

    def post(body: dict[str, Any]) -> int:
        status: int = app.test_client().post("/v1/orders", json=body).status_code
        return status

    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(post, bodies))

    assert sorted(statuses) == [201] * 5 + [409] * 15
    assert stock_of(setup, product) == 0
