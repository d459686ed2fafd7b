"""Customers: creation, case-insensitive email uniqueness, validation, lookup."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def test_create_and_get_customer(api: APIClient) -> None:
    created = api.post("/v1/customers", {"name": "Ada Lovelace", "email": "ada@example.com"}, format="json")

    assert created.status_code == 201
    body = created.json()
    assert body["name"] == "Ada Lovelace"
    assert body["email"] == "ada@example.com"
    assert api.get(f"/v1/customers/{body['id']}").json() == body


def test_email_is_unique_whatever_its_case(api: APIClient) -> None:
    api.post("/v1/customers", {"name": "Ada", "email": "ada@example.com"}, format="json")

    response = api.post("/v1/customers", {"name": "Ada again", "email": "ADA@Example.COM"}, format="json")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"


@pytest.mark.parametrize("email", ["no-at-sign", "@example.com", "ada@", "a@b@c", 42, "a" * 250 + "@x.io"])
def test_invalid_email_is_rejected(api: APIClient, email: object) -> None:
    response = api.post("/v1/customers", {"name": "Ada", "email": email}, format="json")

    assert response.status_code == 422
    assert "email" in response.json()["error"]["details"]


def test_unknown_customer_is_a_404(api: APIClient) -> None:
    assert api.get("/v1/customers/99").status_code == 404


def test_listing_customers_is_not_allowed(api: APIClient) -> None:
    response = api.get("/v1/customers")

    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
