import os
import sys
import tempfile
import uuid

# the app reads its config at import time, so set it up first
TMP = tempfile.mkdtemp()
os.environ["DATABASE_URL"] = "sqlite:///" + os.path.join(TMP, "test.db")
os.environ["SECRET_KEY"] = "test-key"
os.environ["ORDERS_PER_MINUTE"] = "5"
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import pytest

from app import app


@pytest.fixture
def client():
    app.config["TESTING"] = True
    return app.test_client()


def new_product(client, stock=10, price=500):
    r = client.post("/v1/products", json={"name": "Thing", "sku": "SKU-" + uuid.uuid4().hex[:8],
                                          "price_cents": price, "stock": stock})
    assert r.status_code == 201
    return r.get_json()


def new_customer(client):
    r = client.post("/v1/customers", json={"name": "Bob", "email": uuid.uuid4().hex[:8] + "@example.com"})
    assert r.status_code == 201
    return r.get_json()


def test_health(client):
    r = client.get("/health")
    assert r.status_code == 200
    assert r.get_json() == {"status": "ok"}


def test_create_and_get_product(client):
    p = new_product(client)
    r = client.get("/v1/products/" + str(p["id"]))
    assert r.status_code == 200
    assert r.get_json()["sku"] == p["sku"]


def test_product_missing_fields(client):
    r = client.post("/v1/products", json={"name": "x"})
    assert r.status_code == 422
    assert r.get_json()["error"]["code"] == "validation_error"


def test_duplicate_email(client):
    c = new_customer(client)
    r = client.post("/v1/customers", json={"name": "Other", "email": c["email"].upper()})
    assert r.status_code == 409


def test_order_takes_stock(client):
    p = new_product(client, stock=10, price=250)
    c = new_customer(client)
    r = client.post("/v1/orders", json={"customer_id": c["id"], "items": [{"product_id": p["id"], "quantity": 4}]})
    assert r.status_code == 201
    assert r.get_json()["total_cents"] == 1000
    assert client.get("/v1/products/" + str(p["id"])).get_json()["stock"] == 6


def test_order_not_enough_stock(client):
    p = new_product(client, stock=1)
    c = new_customer(client)
    r = client.post("/v1/orders", json={"customer_id": c["id"], "items": [{"product_id": p["id"], "quantity": 2}]})
    assert r.status_code == 409
    assert r.get_json()["error"]["code"] == "insufficient_stock"
