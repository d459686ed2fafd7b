"""Products and customers."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.db import Database
from app.errors import Conflict, NotFound
from app.models import Customer, Product
from app.pagination import Page, PageRequest, fetch_page
from app.schemas import CustomerCreate, ProductCreate, ProductUpdate


def create_product(db: Database, data: ProductCreate) -> Product:
    """Insert a product; Conflict when its SKU is taken (the unique index decides, even under races)."""
    product = Product(name=data.name, sku=data.sku, price_cents=data.price_cents, stock=data.stock)
    try:
        with db.transaction() as session:
            session.add(product)
    except IntegrityError:
        raise Conflict(f"sku {data.sku!r} is already used", details={"field": "sku"}) from None
    return product


def get_product(db: Database, product_id: int) -> Product:
    """The product, or NotFound."""
    with db.session() as session:
        product = session.get(Product, product_id)
    if product is None:
        raise NotFound(f"product {product_id} not found")
    return product


def list_products(db: Database, page: PageRequest) -> Page[Product]:
    """One page of products by id."""
    with db.session() as session:
        return fetch_page(session, select(Product), Product.id, page)


def update_product(db: Database, product_id: int, data: ProductUpdate) -> Product:
    """Apply a partial update (e.g. a restock); NotFound when there is no such product."""
    with db.transaction() as session:
        product = session.get(Product, product_id)
        if product is None:
            raise NotFound(f"product {product_id} not found")
        for name, value in data.changes().items():
            setattr(product, name, value)
    return product


def create_customer(db: Database, data: CustomerCreate) -> Customer:
    """Insert a customer; Conflict when the email is taken, whatever its case."""
    customer = Customer(name=data.name, email=data.email)
    try:
        with db.transaction() as session:
            session.add(customer)
    except IntegrityError:
        raise Conflict(f"email {data.email!r} is already used", details={"field": "email"}) from None
    return customer


def get_customer(db: Database, customer_id: int) -> Customer:
    """The customer, or NotFound."""
    with db.session() as session:
        customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFound(f"customer {customer_id} not found")
    return customer


def customer_exists(db: Database, customer_id: int) -> bool:
    """Whether a customer with this id exists."""
    with db.session() as session:
        return session.scalar(select(func.count()).where(Customer.id == customer_id)) == 1
