"""The revenue report over HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask.testing import FlaskClient

from tests.helpers import error_code, make_customer, make_product, place_order


def test_report_aggregates_placed_orders_per_product(client: FlaskClient) -> None:
    customer = make_customer(client)
    cheap, dear, unsold = (make_product(client, price_cents=price) for price in (250, 1000, 5))
    place_order(client, customer, (cheap, 2), (dear, 1))
    place_order(client, customer, (cheap, 4))
    cancelled = place_order(client, customer, (dear, 3))
    client.post(f"/v1/orders/{cancelled['id']}/cancel")

    report = client.get("/v1/reports/revenue").get_json()

    assert report == {
        "from": None,
        "to": None,
        "total_revenue_cents": 2500,
        "items": [
            {"product_id": cheap["id"], "sku": cheap["sku"], "name": cheap["name"], "units_sold": 6,
             "revenue_cents": 1500},
            {"product_id": dear["id"], "sku": dear["sku"], "name": dear["name"], "units_sold": 1,
             "revenue_cents": 1000},
        ],
    }
    assert unsold["id"] not in [item["product_id"] for item in report["items"]]


def test_ties_are_ordered_by_product_id(client: FlaskClient) -> None:
    customer = make_customer(client)
    first, second = make_product(client, price_cents=100), make_product(client, price_cents=100)
    place_order(client, customer, (second, 1), (first, 1))

    items = client.get("/v1/reports/revenue").get_json()["items"]

    assert [item["product_id"] for item in items] == [first["id"], second["id"]]


def test_report_honours_its_period(client: FlaskClient) -> None:
    place_order(client, make_customer(client), (make_product(client, price_cents=100), 1))
    hour = timedelta(hours=1)
    now = datetime.now(UTC)

    current = client.get("/v1/reports/revenue", query_string={"from": "2020-01-01T00:00:00Z",
                                                              "to": (now + hour).isoformat()}).get_json()
    future = client.get("/v1/reports/revenue", query_string={"from": (now + hour).isoformat()}).get_json()
    past = client.get("/v1/reports/revenue", query_string={"to": "2020-01-01T02:00:00+02:00"}).get_json()

    assert current["from"] == "2020-01-01T00:00:00Z" and current["total_revenue_cents"] == 100
    assert future["items"] == [] and future["total_revenue_cents"] == 0
    assert past["to"] == "2020-01-01T00:00:00Z" and past["items"] == []


def test_unparsable_period_is_a_422(client: FlaskClient) -> None:
    response = client.get("/v1/reports/revenue", query_string={"from": "last week"})

    assert response.status_code == 422 and error_code(response) == "validation_error"
