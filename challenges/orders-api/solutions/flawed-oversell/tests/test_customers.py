"""Customers: creation, unique emails, lookup."""

from __future__ import annotations

import pytest
from httpx import AsyncClient

from tests.helpers import error_code


async def test_create_then_get_customer(client: AsyncClient) -> None:
    created = await client.post("/v1/customers", json={"name": "Ada Lovelace", "email": "Ada@Example.com"})
    assert created.status_code == 201
    customer = created.json()
    assert customer["name"] == "Ada Lovelace"
    assert customer["email"] == "Ada@Example.com"
    fetched = await client.get(f"/v1/customers/{customer['id']}")
    assert fetched.json() == customer


async def test_email_is_unique_whatever_its_case(client: AsyncClient) -> None:
    first = await client.post("/v1/customers", json={"name": "Ada", "email": "ada@example.com"})
    assert first.status_code == 201
    second = await client.post("/v1/customers", json={"name": "Ada", "email": "ADA@example.COM"})
    assert second.status_code == 409
    assert error_code(second) == "conflict"


@pytest.mark.parametrize("email", ["no-at-sign", "@example.com", "ada@", "a@b@c", "x" * 250 + "@ex.com", 7])
async def test_invalid_email_is_422(client: AsyncClient, email: object) -> None:
    response = await client.post("/v1/customers", json={"name": "Ada", "email": email})
    assert response.status_code == 422
    assert error_code(response) == "validation_error"


async def test_unknown_customer_is_404(client: AsyncClient) -> None:
    response = await client.get("/v1/customers/12345")
    assert response.status_code == 404
    assert error_code(response) == "not_found"
