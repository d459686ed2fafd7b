"""Orders: placing (all or nothing), cancelling, idempotency, rate limit, filters."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import IntegrityError
from rest_framework.test import APIClient

from shop import orders
from shop.models import Order
from tests.helpers import order_body

pytestmark = pytest.mark.django_db

Factory = Callable[..., dict[str, Any]]


def stock_of(api: APIClient, product: dict[str, Any]) -> int:
    return int(api.get(f"/v1/products/{product['id']}").json()["stock"])


def test_place_order_takes_stock_and_freezes_prices(api: APIClient, make_product: Factory,
                                                     make_customer: Factory) -> None:
    coffee, tea = make_product(price_cents=1890, stock=5), make_product(price_cents=450, stock=3)
    customer = make_customer()

    response = api.post("/v1/orders", order_body(customer, (coffee, 2), (tea, 3)), format="json")

    assert response.status_code == 201
    order = response.json()
    assert order["status"] == "placed"
    assert order["customer_id"] == customer["id"]
    assert order["items"] == [
        {"product_id": coffee["id"], "quantity": 2, "unit_price_cents": 1890, "line_total_cents": 3780},
        {"product_id": tea["id"], "quantity": 3, "unit_price_cents": 450, "line_total_cents": 1350},
    ]
    assert order["total_cents"] == 5130
    assert (stock_of(api, coffee), stock_of(api, tea)) == (3, 0)
    api.patch(f"/v1/products/{coffee['id']}", {"price_cents": 1}, format="json")
    assert api.get(f"/v1/orders/{order['id']}").json() == order


def test_insufficient_stock_changes_nothing(api: APIClient, make_product: Factory, make_customer: Factory) -> None:
    plenty, scarce = make_product(stock=10), make_product(stock=1)

    response = api.post("/v1/orders", order_body(make_customer(), (plenty, 4), (scarce, 2)), format="json")

    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "insufficient_stock"
    assert error["details"] == {"product_id": scarce["id"], "requested": 2, "available": 1}
    assert (stock_of(api, plenty), stock_of(api, scarce)) == (10, 1)
    assert Order.objects.count() == 0


@pytest.mark.parametrize("body", [
    {"customer_id": 1, "items": []},
    {"customer_id": "1", "items": [{"product_id": 1, "quantity": 1}]},
    {"customer_id": 1, "items": [{"product_id": 1, "quantity": 0}]},
    {"customer_id": 1, "items": [{"product_id": 1, "quantity": 1001}]},
    {"customer_id": 1, "items": [{"product_id": 1, "quantity": 1}, {"product_id": 1, "quantity": 2}]},
    {"customer_id": 1, "items": [{"product_id": n, "quantity": 1} for n in range(1, 52)]},
    {"customer_id": 1},
    [],
])
def test_invalid_order_body_is_a_422(api: APIClient, body: Any) -> None:
    response = api.post("/v1/orders", body, format="json")

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"


def test_unknown_customer_or_product_is_a_422(api: APIClient, make_product: Factory,
                                              make_customer: Factory) -> None:
    product, customer = make_product(), make_customer()

    unknown_customer = api.post("/v1/orders", order_body({"id": 999}, (product, 1)), format="json")
    unknown_product = api.post("/v1/orders", order_body(customer, (product, 1), ({"id": 999}, 1)), format="json")

    assert unknown_customer.status_code == 422
    assert unknown_product.status_code == 422
    assert unknown_product.json()["error"]["details"] == {"product_ids": [999]}
    assert stock_of(api, product) == 10


def test_cancel_restocks_once(api: APIClient, make_product: Factory, make_customer: Factory) -> None:
    product = make_product(stock=5)
    order = api.post("/v1/orders", order_body(make_customer(), (product, 4)), format="json").json()

    cancelled = api.post(f"/v1/orders/{order['id']}/cancel")
    again = api.post(f"/v1/orders/{order['id']}/cancel")

    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "conflict"
    assert stock_of(api, product) == 5


def test_cancel_or_get_unknown_order_is_a_404(api: APIClient) -> None:
    assert api.post("/v1/orders/77/cancel").status_code == 404
    assert api.get("/v1/orders/77").status_code == 404


def test_idempotent_replay_returns_the_same_order(api: APIClient, make_product: Factory,
                                                  make_customer: Factory) -> None:
    product = make_product(stock=10)
    body = order_body(make_customer(), (product, 3))
    headers = {"HTTP_IDEMPOTENCY_KEY": "order-123"}

    first = api.post("/v1/orders", body, format="json", **headers)
    replay = api.post("/v1/orders", {"items": body["items"], "customer_id": body["customer_id"]}, format="json",
                      **headers)
    other_body = api.post("/v1/orders", {**body, "items": [{"product_id": product["id"], "quantity": 1}]},
                          format="json", **headers)

    assert first.status_code == replay.status_code == 201
    assert replay.json()["id"] == first.json()["id"]
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert other_body.status_code == 409
    assert other_body.json()["error"]["code"] == "idempotency_conflict"
    assert stock_of(api, product) == 7


def test_losing_an_idempotency_race_replays_the_winner(api: APIClient, make_product: Factory,
                                                      make_customer: Factory,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Two requests with one new key can both find no earlier order (PostgreSQL runs them side by side); the
    unique key refuses the second one's row, which rolls back and answers with the first one's order."""
    product = make_product(stock=10)
    body = order_body(make_customer(), (product, 3))
    first = api.post("/v1/orders", body, format="json", HTTP_IDEMPOTENCY_KEY="raced")
    real_find_replay = orders.find_replay
    lookups: list[str] = []

    def find_replay_as_if_racing(idempotency: orders.IdempotencyRequest) -> Order | None:
        lookups.append(idempotency.key)  # the view's look-up and the one in the transaction see nothing yet
        return None if len(lookups) <= 2 else real_find_replay(idempotency)

    monkeypatch.setattr(orders, "find_replay", find_replay_as_if_racing)
    second = api.post("/v1/orders", body, format="json", HTTP_IDEMPOTENCY_KEY="raced")

    assert (first.status_code, second.status_code) == (201, 201)
    assert second.json()["id"] == first.json()["id"]
    assert len(lookups) == 3
    assert stock_of(api, product) == 7


def test_an_integrity_error_without_a_key_is_not_swallowed(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_create_order(*args: Any) -> Order:
        raise IntegrityError("FOREIGN KEY constraint failed")

    monkeypatch.setattr(orders, "current_prices", lambda lines: {})
    monkeypatch.setattr(orders, "create_order", broken_create_order)
    with pytest.raises(IntegrityError):
        orders.place_order(1, [], None)


def test_idempotency_key_longer_than_255_is_rejected(api: APIClient) -> None:
    response = api.post("/v1/orders", {}, format="json", HTTP_IDEMPOTENCY_KEY="k" * 256)

    assert response.status_code == 422


def test_rate_limit_counts_every_attempt_but_replays(api: APIClient, settings: Any,
                                                      make_product: Factory, make_customer: Factory) -> None:
    settings.ORDERS_PER_MINUTE = 3
    product, customer = make_product(stock=1), make_customer()
    first = api.post("/v1/orders", order_body(customer, (product, 1)), format="json", HTTP_IDEMPOTENCY_KEY="a")
    refused_for_stock = api.post("/v1/orders", order_body(customer, (product, 1)), format="json")

    invalid = api.post("/v1/orders", {"customer_id": customer["id"], "items": []}, format="json")

    limited = api.post("/v1/orders", order_body(customer, (product, 1)), format="json")
    replay = api.post("/v1/orders", order_body(customer, (product, 1)), format="json", HTTP_IDEMPOTENCY_KEY="a")

    assert (first.status_code, refused_for_stock.status_code, invalid.status_code) == (201, 409, 422)
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert replay.status_code == 201
    assert api.post("/v1/orders", order_body(make_customer(), (product, 1)), format="json").status_code == 409


def test_filters_and_pagination_of_orders(api: APIClient, make_product: Factory, make_customer: Factory) -> None:
    product = make_product(stock=100)
    ada, bob = make_customer(), make_customer()
    ids = [api.post("/v1/orders", order_body(customer, (product, 1)), format="json").json()["id"]
           for customer in (ada, bob, ada, ada)]
    api.post(f"/v1/orders/{ids[2]}/cancel")
    Order.objects.filter(pk=ids[0]).update(created_at=datetime(2026, 1, 1, tzinfo=UTC))

    def listed(**params: Any) -> list[int]:
        response = api.get("/v1/orders", params)
        assert response.status_code == 200, response.content
        return [order["id"] for order in response.json()["items"]]

    assert listed() == ids
    assert listed(customer_id=ada["id"], status="placed") == [ids[0], ids[3]]
    assert listed(status="cancelled") == [ids[2]]
    assert listed(created_to="2026-01-01T00:00:01") == [ids[0]]
    assert listed(created_from="2026-01-01T00:00:01+00:00", customer_id=ada["id"]) == ids[2:]
    first_page = api.get("/v1/orders", {"limit": 2, "customer_id": ada["id"]}).json()
    rest = api.get("/v1/orders", {"limit": 2, "customer_id": ada["id"], "cursor": first_page["next_cursor"]}).json()
    assert [o["id"] for o in first_page["items"] + rest["items"]] == [ids[0], ids[2], ids[3]]
    assert rest["next_cursor"] is None


@pytest.mark.parametrize("params", [{"status": "shipped"}, {"customer_id": "abc"}, {"created_from": "yesterday"},
                                    {"created_to": "2026-13-01"}, {"limit": "1000"}])
def test_bad_order_filters_are_a_422(api: APIClient, params: dict[str, str]) -> None:
    response = api.get("/v1/orders", params)

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"
