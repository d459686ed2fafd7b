"""API design: status codes, validation, error bodies, versioning, pagination, filters, idempotency, rate limit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from _shop import (
    ORDERS_PER_MINUTE,
    all_pages,
    assert_error,
    iso,
    make_customer,
    make_product,
    order_body,
    parse_timestamp,
    place_order,
    stock_of,
    unique,
)

pytestmark = pytest.mark.category("api_design")


# --- products -------------------------------------------------------------------------------------------


@pytest.mark.category("api_design", weight=2)
def test_create_product_returns_201_with_the_stored_product(client: httpx.Client) -> None:
    sku = unique("SKU")
    response = client.post("/v1/products", json={"name": "Tea", "sku": sku, "price_cents": 450, "stock": 3})
    assert response.status_code == 201, response.text[:300]
    product = response.json()
    assert {k: product[k] for k in ("name", "sku", "price_cents", "stock")} == {
        "name": "Tea", "sku": sku, "price_cents": 450, "stock": 3}
    assert isinstance(product["id"], int) and product["id"] > 0
    parse_timestamp(product["created_at"])
    fetched = client.get(f"/v1/products/{product['id']}")
    assert fetched.status_code == 200
    assert fetched.json() == product


INVALID_PRODUCTS: list[tuple[str, dict[str, Any]]] = [
    ("missing-name", {"price_cents": 1, "stock": 1}),
    ("empty-name", {"name": "", "price_cents": 1, "stock": 1}),
    ("name-too-long", {"name": "n" * 201, "price_cents": 1, "stock": 1}),
    ("sku-with-space", {"name": "A", "sku": "A B", "price_cents": 1, "stock": 1}),
    ("sku-too-long", {"name": "A", "sku": "S" * 65, "price_cents": 1, "stock": 1}),
    ("negative-price", {"name": "A", "price_cents": -1, "stock": 1}),
    ("price-as-string", {"name": "A", "price_cents": "12", "stock": 1}),
    ("price-as-float", {"name": "A", "price_cents": 12.5, "stock": 1}),
    ("stock-as-bool", {"name": "A", "price_cents": 1, "stock": True}),
    ("negative-stock", {"name": "A", "price_cents": 1, "stock": -1}),
]


@pytest.mark.category("api_design", weight=0.5)
@pytest.mark.parametrize(("case", "body"), INVALID_PRODUCTS, ids=[case for case, _ in INVALID_PRODUCTS])
def test_invalid_product_is_rejected_with_422(client: httpx.Client, case: str, body: dict[str, Any]) -> None:
    body = body if "sku" in body else {**body, "sku": unique("SKU")}  # only the SKU cases have a bad SKU
    assert_error(client.post("/v1/products", json=body), 422, "validation_error")


def test_body_that_is_not_json_is_rejected(client: httpx.Client) -> None:
    response = client.post("/v1/products", content=b"{not json", headers={"content-type": "application/json"})
    assert_error(response, (400, 422), "validation_error")


def test_body_that_is_a_json_list_is_rejected(client: httpx.Client) -> None:
    assert_error(client.post("/v1/products", json=[1, 2]), (400, 422), "validation_error")


def test_duplicate_sku_is_a_409_conflict(client: httpx.Client) -> None:
    product = make_product(client)
    again = {"name": "Other", "sku": product["sku"], "price_cents": 1, "stock": 1}
    assert_error(client.post("/v1/products", json=again), 409, "conflict")


@pytest.mark.parametrize("path", ["/v1/products/999999999", "/v1/customers/999999999", "/v1/orders/999999999"])
def test_unknown_id_is_a_404_with_error_body(client: httpx.Client, path: str) -> None:
    assert_error(client.get(path), 404, "not_found")


def test_unknown_path_is_a_json_404(client: httpx.Client) -> None:
    assert_error(client.get("/v1/no-such-thing"), 404, "not_found")


def test_api_is_versioned_under_v1(client: httpx.Client) -> None:
    assert client.get("/v1/products").status_code == 200
    assert_error(client.get("/products"), 404)
    assert_error(client.get("/v2/products"), 404)


def test_wrong_method_is_a_json_405(client: httpx.Client) -> None:
    product = make_product(client)
    assert_error(client.delete(f"/v1/products/{product['id']}"), 405, "method_not_allowed")


# --- customers ------------------------------------------------------------------------------------------


def test_create_customer_and_read_it_back(client: httpx.Client) -> None:
    email = f"{unique('ada')}@example.com"
    response = client.post("/v1/customers", json={"name": "Ada", "email": email})
    assert response.status_code == 201, response.text[:300]
    customer = response.json()
    assert customer["name"] == "Ada" and customer["email"] == email
    parse_timestamp(customer["created_at"])
    assert client.get(f"/v1/customers/{customer['id']}").json() == customer


def test_duplicate_email_differing_in_case_is_a_409(client: httpx.Client) -> None:
    email = f"{unique('dup')}@example.com"
    assert client.post("/v1/customers", json={"name": "A", "email": email}).status_code == 201
    assert_error(client.post("/v1/customers", json={"name": "B", "email": email.upper()}), 409, "conflict")


@pytest.mark.parametrize("email", ["no-at-sign", "@example.com", "a@", "a@@b.c", ""])
def test_invalid_email_is_a_422(client: httpx.Client, email: str) -> None:
    assert_error(client.post("/v1/customers", json={"name": "A", "email": email}), 422, "validation_error")


# --- orders ---------------------------------------------------------------------------------------------


@pytest.mark.category("api_design", weight=2)
def test_order_has_lines_prices_and_total(client: httpx.Client) -> None:
    customer = make_customer(client)
    coffee, tea = make_product(client, price_cents=1890), make_product(client, price_cents=450)
    order = place_order(client, customer, (coffee, 2), (tea, 3))
    assert order["customer_id"] == customer["id"] and order["status"] == "placed"
    lines = {line["product_id"]: line for line in order["items"]}
    assert lines[coffee["id"]] == {"product_id": coffee["id"], "quantity": 2, "unit_price_cents": 1890,
                                   "line_total_cents": 3780}
    assert lines[tea["id"]]["line_total_cents"] == 1350
    assert order["total_cents"] == 3780 + 1350
    parse_timestamp(order["created_at"])
    assert client.get(f"/v1/orders/{order['id']}").json() == order


INVALID_ORDERS: list[str] = ["no-items", "zero-quantity", "quantity-over-1000", "same-product-twice",
                             "quantity-as-string", "customer-missing", "too-many-lines"]


@pytest.mark.category("api_design", weight=0.5)
@pytest.mark.parametrize("case", INVALID_ORDERS)
def test_invalid_order_is_a_422_and_takes_no_stock(client: httpx.Client, case: str) -> None:
    customer, product = make_customer(client), make_product(client, stock=10)
    line = {"product_id": product["id"], "quantity": 1}
    bodies: dict[str, dict[str, Any]] = {
        "no-items": {"customer_id": customer["id"], "items": []},
        "zero-quantity": {"customer_id": customer["id"], "items": [{**line, "quantity": 0}]},
        "quantity-over-1000": {"customer_id": customer["id"], "items": [{**line, "quantity": 1001}]},
        "same-product-twice": {"customer_id": customer["id"], "items": [line, line]},
        "quantity-as-string": {"customer_id": customer["id"], "items": [{**line, "quantity": "2"}]},
        "customer-missing": {"items": [line]},
        "too-many-lines": {"customer_id": customer["id"],
                           "items": [{"product_id": product["id"] + i, "quantity": 1} for i in range(51)]},
    }
    assert_error(client.post("/v1/orders", json=bodies[case]), 422, "validation_error")
    assert stock_of(client, product) == 10


def test_unknown_customer_or_product_in_an_order_is_a_422(client: httpx.Client) -> None:
    customer, product = make_customer(client), make_product(client, stock=5)
    unknown_customer = {"customer_id": 999999999, "items": [{"product_id": product["id"], "quantity": 1}]}
    assert_error(client.post("/v1/orders", json=unknown_customer), 422, "validation_error")
    unknown_product = {"customer_id": customer["id"], "items": [{"product_id": 999999999, "quantity": 1}]}
    assert_error(client.post("/v1/orders", json=unknown_product), 422, "validation_error")
    assert stock_of(client, product) == 5


def test_cancel_once_then_409(client: httpx.Client) -> None:
    customer, product = make_customer(client), make_product(client)
    order = place_order(client, customer, (product, 1))
    cancelled = client.post(f"/v1/orders/{order['id']}/cancel")
    assert cancelled.status_code == 200, cancelled.text[:300]
    assert cancelled.json()["status"] == "cancelled" and cancelled.json()["id"] == order["id"]
    assert_error(client.post(f"/v1/orders/{order['id']}/cancel"), 409, "conflict")
    assert_error(client.post("/v1/orders/999999999/cancel"), 404, "not_found")


# --- idempotency ----------------------------------------------------------------------------------------


@pytest.mark.category("api_design", weight=2)
def test_idempotent_replay_returns_the_same_order_and_takes_stock_once(client: httpx.Client) -> None:
    customer, product = make_customer(client), make_product(client, stock=10)
    body, key = order_body(customer, (product, 3)), {"Idempotency-Key": unique("key")}
    first = client.post("/v1/orders", json=body, headers=key)
    second = client.post("/v1/orders", json=body, headers=key)
    assert first.status_code == 201, first.text[:300]
    assert second.status_code == 201, f"the replay answered {second.status_code}: {second.text[:300]}"
    assert second.json()["id"] == first.json()["id"]
    assert stock_of(client, product) == 7


def test_idempotency_key_reused_with_another_body_is_a_409(client: httpx.Client) -> None:
    customer, product = make_customer(client), make_product(client, stock=10)
    key = {"Idempotency-Key": unique("key")}
    assert client.post("/v1/orders", json=order_body(customer, (product, 1)), headers=key).status_code == 201
    other = client.post("/v1/orders", json=order_body(customer, (product, 2)), headers=key)
    assert_error(other, 409, "idempotency_conflict")
    assert stock_of(client, product) == 9


# --- rate limit -----------------------------------------------------------------------------------------


@pytest.mark.category("api_design", weight=2)
def test_order_rate_limit_answers_429_with_retry_after(client: httpx.Client) -> None:
    customer, product = make_customer(client), make_product(client, stock=1000)
    statuses = [client.post("/v1/orders", json=order_body(customer, (product, 1))).status_code
                for _ in range(ORDERS_PER_MINUTE)]
    assert statuses == [201] * ORDERS_PER_MINUTE, f"orders within the limit were refused: {statuses}"
    limited = client.post("/v1/orders", json=order_body(customer, (product, 1)))
    assert_error(limited, 429, "rate_limited")
    retry_after = limited.headers.get("retry-after", "")
    assert retry_after.isdigit() and 1 <= int(retry_after) <= 60, f"Retry-After is {retry_after!r}"
    other = make_customer(client)
    assert client.post("/v1/orders", json=order_body(other, (product, 1))).status_code == 201, (
        "the limit is per customer: another customer was refused too")


# --- pagination and filters -----------------------------------------------------------------------------


@pytest.mark.parametrize("limit", ["0", "101", "-1", "abc"])
def test_limit_outside_1_to_100_is_a_422(client: httpx.Client, limit: str) -> None:
    assert_error(client.get("/v1/products", params={"limit": limit}), 422, "validation_error")


def test_default_page_is_20_and_limit_100_is_allowed(client: httpx.Client) -> None:
    for _ in range(21):
        make_product(client)
    first = client.get("/v1/products")
    assert first.status_code == 200
    assert len(first.json()["items"]) == 20 and first.json()["next_cursor"] is not None
    assert client.get("/v1/products", params={"limit": 100}).status_code == 200


@pytest.mark.category("api_design", weight=2)
def test_cursor_pages_cover_every_product_once_in_id_order(client: httpx.Client) -> None:
    mine = {make_product(client)["id"] for _ in range(7)}
    items = all_pages(client, "/v1/products", {"limit": 3})
    ids = [item["id"] for item in items]
    assert ids == sorted(ids), "items are not ordered by id ascending across pages"
    assert len(ids) == len(set(ids)), "an item appeared on two pages"
    assert mine <= set(ids), "a product was missing from the pages"


def test_a_cursor_the_app_did_not_issue_is_a_422(client: httpx.Client) -> None:
    assert_error(client.get("/v1/products", params={"cursor": "not-a-real-cursor"}), 422, "validation_error")


@pytest.mark.category("api_design", weight=2)
def test_orders_filter_by_customer_and_status_with_pages(client: httpx.Client) -> None:
    customer, product = make_customer(client), make_product(client)
    orders = [place_order(client, customer, (product, 1)) for _ in range(7)]
    for order in orders[:3]:
        assert client.post(f"/v1/orders/{order['id']}/cancel").status_code == 200
    mine = all_pages(client, "/v1/orders", {"customer_id": customer["id"], "limit": 2})
    assert [o["id"] for o in mine] == [o["id"] for o in orders]
    cancelled = all_pages(client, "/v1/orders", {"customer_id": customer["id"], "status": "cancelled", "limit": 2})
    assert [o["id"] for o in cancelled] == [o["id"] for o in orders[:3]]
    placed = all_pages(client, "/v1/orders", {"customer_id": customer["id"], "status": "placed"})
    assert [o["id"] for o in placed] == [o["id"] for o in orders[3:]]


def test_orders_filter_by_date_range(client: httpx.Client) -> None:
    customer, product = make_customer(client), make_product(client)
    order = place_order(client, customer, (product, 1))
    now = datetime.now(UTC)
    around = {"customer_id": customer["id"], "created_from": iso(now - timedelta(minutes=10)),
              "created_to": iso(now + timedelta(minutes=10))}
    assert [o["id"] for o in all_pages(client, "/v1/orders", around)] == [order["id"]]
    later = {"customer_id": customer["id"], "created_from": iso(now + timedelta(hours=1))}
    assert all_pages(client, "/v1/orders", later) == []
    earlier = {"customer_id": customer["id"], "created_to": iso(now - timedelta(hours=1))}
    assert all_pages(client, "/v1/orders", earlier) == []


@pytest.mark.parametrize("params", [{"status": "shipped"}, {"created_from": "yesterday"},
                                    {"created_to": "2026-13-45T00:00:00Z"}])
def test_invalid_order_filter_is_a_422(client: httpx.Client, params: dict[str, str]) -> None:
    assert_error(client.get("/v1/orders", params=params), 422, "validation_error")
