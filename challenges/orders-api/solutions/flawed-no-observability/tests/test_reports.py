"""The revenue report: placed orders only, grouped per product, ordered by revenue."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from shop.models import Order
from tests.helpers import order_body

pytestmark = pytest.mark.django_db

Factory = Callable[..., dict[str, Any]]


def test_revenue_per_product(api: APIClient, make_product: Factory, make_customer: Factory) -> None:
    coffee, tea, cake = make_product(price_cents=1890), make_product(price_cents=500), make_product(price_cents=300)
    customer = make_customer()
    api.post("/v1/orders", order_body(customer, (coffee, 2), (tea, 1)), format="json")
    api.post("/v1/orders", order_body(customer, (tea, 1)), format="json")
    cancelled = api.post("/v1/orders", order_body(customer, (cake, 5)), format="json").json()
    api.post(f"/v1/orders/{cancelled['id']}/cancel")

    with CaptureQueriesContext(connection) as queries:
        report = api.get("/v1/reports/revenue").json()

    assert len(queries) == 1
    assert "GROUP BY" in queries[0]["sql"]
    assert report == {
        "from": None, "to": None, "total_revenue_cents": 4780,
        "items": [
            {"product_id": coffee["id"], "sku": coffee["sku"], "name": coffee["name"], "units_sold": 2,
             "revenue_cents": 3780},
            {"product_id": tea["id"], "sku": tea["sku"], "name": tea["name"], "units_sold": 2,
             "revenue_cents": 1000},
        ],
    }


def test_ties_are_ordered_by_product_id(api: APIClient, make_product: Factory, make_customer: Factory) -> None:
    first, second = make_product(price_cents=100), make_product(price_cents=100)
    api.post("/v1/orders", order_body(make_customer(), (second, 1), (first, 1)), format="json")

    items = api.get("/v1/reports/revenue").json()["items"]

    assert [item["product_id"] for item in items] == [first["id"], second["id"]]


def test_period_bounds(api: APIClient, make_product: Factory, make_customer: Factory) -> None:
    product, customer = make_product(price_cents=100), make_customer()
    old = api.post("/v1/orders", order_body(customer, (product, 1)), format="json").json()
    api.post("/v1/orders", order_body(customer, (product, 2)), format="json")
    Order.objects.filter(pk=old["id"]).update(created_at=datetime(2026, 11, 1, tzinfo=UTC))

    november_first = api.get("/v1/reports/revenue", {"from": "2026-11-01T00:00:00Z", "to": "2026-11-01T00:00:01Z"})
    after = api.get("/v1/reports/revenue", {"from": "2026-11-01T01:00:00+01:00"}).json()

    assert november_first.json()["total_revenue_cents"] == 100
    assert november_first.json()["from"] == "2026-11-01T00:00:00Z"
    assert after["from"] == "2026-11-01T00:00:00Z"
    assert after["total_revenue_cents"] == 300


def test_bad_period_is_a_422(api: APIClient) -> None:
    response = api.get("/v1/reports/revenue", {"to": "next week"})

    assert response.status_code == 422
