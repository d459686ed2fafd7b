"""Databases: stock taken atomically (also under concurrency), totals, the aggregate report, persistence, and,
read from PostgreSQL's catalog and statistics on the grader's side, constraints, keys and statement counts."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from _shop import (
    assert_error,
    iso,
    make_customer,
    make_product,
    order_body,
    place_order,
    stock_of,
    unique,
)

from checks.services_access import GraderDatabase

pytestmark = pytest.mark.category("databases")


def test_placing_an_order_takes_stock(client: httpx.Client) -> None:
    customer, product = make_customer(client), make_product(client, stock=10)
    place_order(client, customer, (product, 4))
    assert stock_of(client, product) == 6


@pytest.mark.category("databases", weight=2)
def test_an_order_short_of_stock_is_a_409_and_changes_nothing(client: httpx.Client) -> None:
    customer = make_customer(client)
    plenty, scarce = make_product(client, stock=50), make_product(client, stock=2)
    response = client.post("/v1/orders", json=order_body(customer, (plenty, 5), (scarce, 3)))
    assert_error(response, 409, "insufficient_stock")
    assert stock_of(client, plenty) == 50, "the line that had stock was taken although the order failed"
    assert stock_of(client, scarce) == 2
    listed = client.get("/v1/orders", params={"customer_id": customer["id"]}).json()["items"]
    assert listed == [], "a refused order was stored"


def test_cancelling_puts_the_stock_back(client: httpx.Client) -> None:
    customer, product = make_customer(client), make_product(client, stock=10)
    order = place_order(client, customer, (product, 7))
    assert client.post(f"/v1/orders/{order['id']}/cancel").status_code == 200
    assert stock_of(client, product) == 10


def _post_order(base_url: str, body: dict[str, Any]) -> int:
    with httpx.Client(base_url=base_url, timeout=30.0) as own:
        return own.post("/v1/orders", json=body).status_code


@pytest.mark.category("databases", weight=4)
def test_concurrent_orders_never_oversell(client: httpx.Client, base_url: str) -> None:
    product = make_product(client, stock=5)
    customers = [make_customer(client) for _ in range(20)]
    bodies = [order_body(customer, (product, 1)) for customer in customers]
    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(lambda body: _post_order(base_url, body), bodies))
    assert statuses.count(201) == 5, f"with 5 in stock, {statuses.count(201)} of 20 orders succeeded: {statuses}"
    assert set(statuses) <= {201, 409}, f"concurrent orders got unexpected answers: {sorted(set(statuses))}"
    assert stock_of(client, product) == 0


@pytest.mark.category("databases", weight=2)
def test_concurrent_creation_of_one_sku_stores_it_once(client: httpx.Client, base_url: str) -> None:
    body = {"name": "Race", "sku": unique("RACE"), "price_cents": 1, "stock": 1}

    def create(_: int) -> int:
        with httpx.Client(base_url=base_url, timeout=30.0) as own:
            return own.post("/v1/products", json=body).status_code

    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = list(pool.map(create, range(10)))
    assert statuses.count(201) == 1 and statuses.count(409) == 9, f"answers: {statuses}"


@pytest.mark.category("databases", weight=3)
def test_revenue_report_aggregates_placed_orders_per_product(client: httpx.Client) -> None:
    customer = make_customer(client)
    cheap, dear = make_product(client, price_cents=250), make_product(client, price_cents=1000)
    place_order(client, customer, (cheap, 2), (dear, 1))
    place_order(client, customer, (cheap, 4))
    cancelled = place_order(client, customer, (dear, 3))
    assert client.post(f"/v1/orders/{cancelled['id']}/cancel").status_code == 200
    start = iso(datetime.now(UTC) - timedelta(minutes=10))
    response = client.get("/v1/reports/revenue", params={"from": start})
    assert response.status_code == 200, response.text[:300]
    report = response.json()
    rows = {row["product_id"]: row for row in report["items"]}
    assert rows[cheap["id"]] == {"product_id": cheap["id"], "sku": cheap["sku"], "name": cheap["name"],
                                 "units_sold": 6, "revenue_cents": 1500}
    assert rows[dear["id"]]["units_sold"] == 1 and rows[dear["id"]]["revenue_cents"] == 1000, (
        "a cancelled order was counted, or a line was lost")
    assert report["total_revenue_cents"] == sum(row["revenue_cents"] for row in report["items"])
    order = [(-row["revenue_cents"], row["product_id"]) for row in report["items"]]
    assert order == sorted(order), "items are not ordered by revenue descending, then product id"


def test_revenue_report_honours_its_period(client: httpx.Client) -> None:
    customer, product = make_customer(client), make_product(client, price_cents=100)
    place_order(client, customer, (product, 1))
    future = client.get("/v1/reports/revenue", params={"from": iso(datetime.now(UTC) + timedelta(hours=1))})
    assert future.status_code == 200
    assert future.json()["items"] == [] and future.json()["total_revenue_cents"] == 0
    past = client.get("/v1/reports/revenue", params={"to": iso(datetime.now(UTC) - timedelta(days=3650))})
    assert past.status_code == 200 and past.json()["items"] == []
    assert_error(client.get("/v1/reports/revenue", params={"from": "last week"}), 422, "validation_error")


@pytest.mark.category("databases", weight=3)
def test_data_survives_an_app_restart(client: httpx.Client, restart_app: Any) -> None:
    customer, product = make_customer(client), make_product(client, stock=10)
    key = {"Idempotency-Key": unique("restart")}
    body = order_body(customer, (product, 2))
    order = client.post("/v1/orders", json=body, headers=key).json()
    restart_app()
    assert client.get(f"/v1/products/{product['id']}").json()["stock"] == 8
    assert client.get(f"/v1/customers/{customer['id']}").json() == customer
    assert client.get(f"/v1/orders/{order['id']}").json() == order
    replay = client.post("/v1/orders", json=body, headers=key)
    assert replay.status_code == 201 and replay.json()["id"] == order["id"], (
        "an idempotent replay after a restart did not return the original order")
    assert stock_of(client, product) == 8


# --- behind the API: the database itself, read from the grader's side (never through the app) ------------


def _table_and_column_holding(database: GraderDatabase, value: str) -> tuple[str, str]:
    places = database.tables_holding(value)
    assert places, f"{value!r}, just created through the API, is in no table of the app's PostgreSQL database"
    return places[0]


def _uniqueness_enforced(database: GraderDatabase, table: str, column: str) -> bool:
    """A unique index or constraint on `column` alone, or on an expression of it (e.g. lower(email))."""
    return any(index.columns == (column,) or (index.has_expressions and not index.columns
                                              and column in index.definition)
               for index in database.unique_indexes(table))


def test_the_data_lives_in_the_declared_postgresql(client: httpx.Client, database: GraderDatabase) -> None:
    product = make_product(client)
    _table_and_column_holding(database, product["sku"])


@pytest.mark.category("databases", weight=2)
def test_sku_and_email_uniqueness_is_enforced_by_the_database(client: httpx.Client, database: GraderDatabase) -> None:
    product, customer = make_product(client), make_customer(client)
    products, sku_column = _table_and_column_holding(database, product["sku"])
    assert _uniqueness_enforced(database, products, sku_column), (
        f"no unique index or constraint on {products}.{sku_column}: a check in code races (two requests both "
        f"see the SKU free)")
    customers, _ = _table_and_column_holding(database, customer["email"])
    assert any("email" in index.definition for index in database.unique_indexes(customers)), (
        f"no unique index or constraint on the email of {customers}")


def test_order_lines_reference_products_and_orders_reference_customers(
    client: httpx.Client, database: GraderDatabase
) -> None:
    customer, product = make_customer(client), make_product(client)
    place_order(client, customer, (product, 1))
    products, _ = _table_and_column_holding(database, product["sku"])
    customers, _ = _table_and_column_holding(database, customer["email"])
    referenced = {key.referenced_table for key in database.foreign_keys()}
    assert products in referenced, f"no foreign key references {products}: {database.foreign_keys()}"
    assert customers in referenced, f"no foreign key references {customers}: {database.foreign_keys()}"


@pytest.mark.category("databases", weight=2)
def test_listing_orders_costs_a_bounded_number_of_statements(client: httpx.Client, database: GraderDatabase) -> None:
    customer, first, second = make_customer(client), make_product(client), make_product(client)
    for _ in range(12):
        place_order(client, customer, (first, 1), (second, 2))
    response, statements = database.count_app_statements(
        lambda: client.get("/v1/orders", params={"customer_id": customer["id"], "limit": 12}))
    assert response.status_code == 200 and len(response.json()["items"]) == 12
    assert statements <= 8, (
        f"listing 12 orders ran {statements} statements (a query per order, N+1?): "
        f"{database.app_statements()[:5]}")


@pytest.mark.category("databases", weight=2)
def test_the_revenue_report_is_computed_in_the_database(client: httpx.Client, database: GraderDatabase) -> None:
    customer = make_customer(client)
    products = [make_product(client, price_cents=100 + n) for n in range(10)]
    place_order(client, customer, *[(product, 1) for product in products])
    start = iso(datetime.now(UTC) - timedelta(minutes=10))
    response, statements = database.count_app_statements(
        lambda: client.get("/v1/reports/revenue", params={"from": start}))
    assert response.status_code == 200
    assert statements <= 6, (
        f"the report over 10 products ran {statements} statements (a query per product?): "
        f"{database.app_statements()[:5]}")
