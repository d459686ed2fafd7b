"""`/v1/products` and `/v1/customers`."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from app.api.common import created, json_body
from app.schemas import CustomerCreate, ProductCreate, ProductUpdate
from app.serializers import customer_json, product_json
from app.services import catalog
from app.state import app_state

bp = Blueprint("catalog", __name__, url_prefix="/v1")


@bp.post("/products")
@json_body(ProductCreate)
def create_product(body: ProductCreate) -> Response:
    """Create a product (409 when its SKU is taken)."""
    product = catalog.create_product(app_state().db, body)
    return created(product_json(product), f"/v1/products/{product.id}")


@bp.get("/products/<id:product_id>")
def get_product(product_id: int) -> Response:
    """One product."""
    return jsonify(product_json(catalog.get_product(app_state().db, product_id)))


@bp.patch("/products/<id:product_id>")
@json_body(ProductUpdate)
def update_product(body: ProductUpdate, product_id: int) -> Response:
    """Change a product's name, price or stock (e.g. restock)."""
    return jsonify(product_json(catalog.update_product(app_state().db, product_id, body)))


@bp.get("/products")
def list_products() -> Response:
    """A page of products, by id."""
    state = app_state()
    page = catalog.list_products(state.db, state.cursors.page_request("products", request.args))
    return jsonify({"items": [product_json(product) for product in page.items],
                    "next_cursor": state.cursors.next_cursor("products", page)})


@bp.post("/customers")
@json_body(CustomerCreate)
def create_customer(body: CustomerCreate) -> Response:
    """Create a customer (409 when the email is taken, whatever its case)."""
    customer = catalog.create_customer(app_state().db, body)
    return created(customer_json(customer), f"/v1/customers/{customer.id}")


@bp.get("/customers/<id:customer_id>")
def get_customer(customer_id: int) -> Response:
    """One customer."""
    return jsonify(customer_json(catalog.get_customer(app_state().db, customer_id)))
