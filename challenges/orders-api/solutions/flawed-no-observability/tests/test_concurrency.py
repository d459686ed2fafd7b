"""Concurrent orders never oversell: real threads, real connections, one SQLite file."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connection
from rest_framework.test import APIClient

from tests.helpers import order_body


def place_one(body: dict[str, Any]) -> int:
    try:
        return int(APIClient().post("/v1/orders", body, format="json").status_code)
    finally:
        connection.close()  # each thread has its own connection


@pytest.mark.django_db(transaction=True)
def test_twenty_simultaneous_orders_for_five_units(api: APIClient, make_product: Callable[..., dict[str, Any]],
                                                   make_customer: Callable[..., dict[str, Any]]) -> None:
    product = make_product(stock=5)
    bodies = [order_body(make_customer(), (product, 1)) for _ in range(20)]

    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(place_one, bodies))

    assert sorted(statuses) == [201] * 5 + [409] * 15
    assert api.get(f"/v1/products/{product['id']}").json()["stock"] == 0
