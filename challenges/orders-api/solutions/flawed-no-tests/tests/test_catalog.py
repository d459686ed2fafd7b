"""Products and customers over HTTP."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.helpers import error_code, make_customer, make_product


def test_create_product_answers_201_and_reads_back(client: FlaskClient) -> None:
    response = client.post("/v1/products", json={"name": "Tea", "sku": "TEA_1", "price_cents": 450, "stock": 3})

    assert response.status_code == 201
    product = response.get_json()
    assert product["sku"] == "TEA_1" and product["price_cents"] == 450 and product["stock"] == 3
    assert product["created_at"].endswith("Z")
    assert response.headers["Location"] == f"/v1/products/{product['id']}"
    assert client.get(f"/v1/products/{product['id']}").get_json() == product


@pytest.mark.parametrize("body", [
    {"sku": "A", "price_cents": 1, "stock": 1},
    {"name": "", "sku": "A", "price_cents": 1, "stock": 1},
    {"name": "n" * 201, "sku": "A", "price_cents": 1, "stock": 1},
    {"name": "A", "sku": "A B", "price_cents": 1, "stock": 1},
    {"name": "A", "sku": "S" * 65, "price_cents": 1, "stock": 1},
    {"name": "A", "sku": "A", "price_cents": -1, "stock": 1},
    {"name": "A", "sku": "A", "price_cents": "12", "stock": 1},
    {"name": "A", "sku": "A", "price_cents": 12.5, "stock": 1},
    {"name": "A", "sku": "A", "price_cents": 1, "stock": True},
    {"name": "A", "sku": "A", "price_cents": 10**30, "stock": 1},
    {"name": ["A"], "sku": "A", "price_cents": 1, "stock": 1},
    [1, 2],
])
def test_invalid_product_is_a_422_naming_the_field(client: FlaskClient, body: Any) -> None:
    response = client.post("/v1/products", json=body)

    assert response.status_code == 422
    assert error_code(response) == "validation_error"
    assert response.get_json()["error"]["details"]


@pytest.mark.parametrize("raw", [b"", b"{not json", b"[[[[" * 5000])
def test_body_that_is_not_json_is_a_400(client: FlaskClient, raw: bytes) -> None:
    response = client.post("/v1/products", data=raw, content_type="application/json")

    assert response.status_code == 400
    assert error_code(response) == "validation_error"


def test_duplicate_sku_is_a_conflict(client: FlaskClient) -> None:
    product = make_product(client)

    response = client.post("/v1/products", json={"name": "Other", "sku": product["sku"], "price_cents": 1, "stock": 1})

    assert response.status_code == 409
    assert error_code(response) == "conflict"


@pytest.mark.parametrize("path", ["/v1/products/999", "/v1/products/0", "/v1/products/abc",
                                  f"/v1/products/{2**64}", "/v1/customers/999", "/v1/orders/999"])
def test_unknown_or_impossible_ids_are_404(client: FlaskClient, path: str) -> None:
    response = client.get(path)

    assert response.status_code == 404
    assert error_code(response) == "not_found"


def test_pages_cover_every_product_once_in_id_order(client: FlaskClient) -> None:
    created = [make_product(client)["id"] for _ in range(5)]
    seen: list[int] = []
    query: dict[str, Any] = {"limit": 2}
    pages = 0
    while True:
        page = client.get("/v1/products", query_string=query).get_json()
        seen += [item["id"] for item in page["items"]]
        pages += 1
        if page["next_cursor"] is None:
            break
        query = {"limit": 2, "cursor": page["next_cursor"]}

    assert seen == created
    assert pages == 3


def test_default_page_size_is_20(client: FlaskClient) -> None:
    for _ in range(21):
        make_product(client)

    page = client.get("/v1/products").get_json()

    assert len(page["items"]) == 20 and page["next_cursor"]


@pytest.mark.parametrize("query", [{"limit": "0"}, {"limit": "101"}, {"limit": "-1"}, {"limit": "abc"},
                                   {"limit": "1.5"}, {"cursor": "forged"}, {"cursor": ""}])
def test_bad_limit_or_cursor_is_a_422(client: FlaskClient, query: dict[str, str]) -> None:
    response = client.get("/v1/products", query_string=query)

    assert response.status_code == 422
    assert error_code(response) == "validation_error"


def test_restock_with_patch(client: FlaskClient) -> None:
    product = make_product(client, stock=1)

    response = client.patch(f"/v1/products/{product['id']}", json={"stock": 40, "price_cents": 2000})

    assert response.status_code == 200
    assert response.get_json() == {**product, "stock": 40, "price_cents": 2000}


@pytest.mark.parametrize(("path_id", "body", "status"), [(1, {}, 422), (1, {"stock": -1}, 422),
                                                           (999, {"stock": 1}, 404)])
def test_patch_errors(client: FlaskClient, path_id: int, body: dict[str, Any], status: int) -> None:
    make_product(client)

    assert client.patch(f"/v1/products/{path_id}", json=body).status_code == status


def test_create_customer_and_read_it_back(client: FlaskClient) -> None:
    customer = make_customer(client, email="Ada@Example.com")

    assert customer["email"] == "Ada@Example.com"
    assert client.get(f"/v1/customers/{customer['id']}").get_json() == customer


def test_email_is_unique_whatever_its_case(client: FlaskClient) -> None:
    make_customer(client, email="grace@example.com")

    response = client.post("/v1/customers", json={"name": "Grace", "email": "GRACE@example.COM"})

    assert response.status_code == 409
    assert error_code(response) == "conflict"


@pytest.mark.parametrize("email", ["no-at-sign", "@example.com", "a@", "a@@b.c", "a@b@c", "", 42,
                                   "x" * 250 + "@b.co"])
def test_invalid_email_is_a_422(client: FlaskClient, email: Any) -> None:
    response = client.post("/v1/customers", json={"name": "A", "email": email})

    assert response.status_code == 422
    assert error_code(response) == "validation_error"
