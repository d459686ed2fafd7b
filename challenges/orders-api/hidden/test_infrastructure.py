"""Infrastructure: configuration from the environment, no secrets leaked, no stack traces on bad input."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from _shop import ORDERS_PER_MINUTE, assert_error, make_customer, make_product, order_body

pytestmark = pytest.mark.category("infrastructure")

SECRET = "sandbox-signing-key-not-a-secret"  # SECRET_KEY in challenge.toml


@pytest.mark.category("infrastructure", weight=2)
def test_rate_limit_follows_the_environment(client: httpx.Client) -> None:
    customer, product = make_customer(client), make_product(client, stock=1000)
    statuses = [client.post("/v1/orders", json=order_body(customer, (product, 1))).status_code
                for _ in range(ORDERS_PER_MINUTE + 1)]
    assert statuses[:ORDERS_PER_MINUTE] == [201] * ORDERS_PER_MINUTE
    assert statuses[-1] == 429, (
        f"ORDERS_PER_MINUTE={ORDERS_PER_MINUTE} was set, yet order {ORDERS_PER_MINUTE + 1} answered {statuses[-1]}")


BAD_INPUTS: list[tuple[str, str, Any]] = [
    ("huge-number", "/v1/products", {"name": "A", "sku": "HUGE-1", "price_cents": 10**30, "stock": 1}),
    ("nested-garbage", "/v1/orders", {"customer_id": {"$gt": 0}, "items": "all"}),
    ("null-body", "/v1/customers", None),
    ("deep-json", "/v1/products", {"name": [[[[[[[[[["x"]]]]]]]]]], "sku": "D", "price_cents": 1, "stock": 1}),
]


@pytest.mark.parametrize(("case", "path", "body"), BAD_INPUTS, ids=[case for case, _, _ in BAD_INPUTS])
def test_bad_input_never_causes_a_500_or_a_stack_trace(client: httpx.Client, case: str, path: str, body: Any) -> None:
    response = client.post(path, json=body)
    assert "Traceback" not in response.text and "<html" not in response.text.lower()
    assert_error(response, (400, 422), "validation_error")


def test_the_secret_key_never_appears_in_responses_or_logs(client: httpx.Client, app_log: Any) -> None:
    make_product(client)
    responses = [client.get("/v1/products"), client.get("/v1/products", params={"cursor": "x"}),
                 client.get("/v1/nope"), client.get("/ready")]
    for response in responses:
        assert SECRET not in response.text
    assert SECRET not in app_log.text(), "the SECRET_KEY value was written to the log"


def test_cursors_are_opaque_not_raw_ids(client: httpx.Client) -> None:
    for _ in range(3):
        make_product(client)
    cursor = client.get("/v1/products", params={"limit": 1}).json()["next_cursor"]
    assert isinstance(cursor, str) and cursor
    assert_error(client.get("/v1/products", params={"cursor": cursor + "x", "limit": 1}), 422, "validation_error")
