"""Python fundamentals seen from outside: text and numbers handled exactly, concurrent requests served."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from _shop import make_customer, make_product, place_order, unique

pytestmark = pytest.mark.category("python_fundamentals")


def test_unicode_text_round_trips(client: httpx.Client) -> None:
    name = "Café ☕ 東京 — Ünïcödé 🚀"
    product = make_product(client, name=name)
    assert client.get(f"/v1/products/{product['id']}").json()["name"] == name


def test_large_integer_amounts_are_exact(client: httpx.Client) -> None:
    price = 2**40 + 7
    product = make_product(client, price_cents=price, stock=3)
    order = place_order(client, make_customer(client), (product, 3))
    assert order["total_cents"] == 3 * price


@pytest.mark.category("python_fundamentals", weight=2)
def test_concurrent_reads_and_writes_all_succeed(client: httpx.Client, base_url: str) -> None:
    product = make_product(client)

    def work(index: int) -> int:
        with httpx.Client(base_url=base_url, timeout=30.0) as own:
            if index % 2:
                return own.get(f"/v1/products/{product['id']}").status_code
            body = {"name": "Busy", "sku": unique(f"BUSY{index}"), "price_cents": 1, "stock": 1}
            return own.post("/v1/products", json=body).status_code

    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(work, range(40)))
    assert all(status in (200, 201) for status in statuses), f"some concurrent requests failed: {statuses}"


def test_health_answers_while_writes_are_in_flight(client: httpx.Client, base_url: str) -> None:
    customer, product = make_customer(client), make_product(client, stock=100)

    def order(_: int) -> int:
        with httpx.Client(base_url=base_url, timeout=30.0) as own:
            return own.post("/v1/orders", json={"customer_id": customer["id"],
                                                 "items": [{"product_id": product["id"], "quantity": 1}]}).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        pending = [pool.submit(order, i) for i in range(8)]
        assert client.get("/health").status_code == 200
        assert all(future.result() in (201, 429) for future in pending)
