"""Products and customers."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import transactional
from app.errors import Conflict
from app.models import Customer, Product
from app.schemas import CustomerCreate, ProductCreate, ProductUpdate
from app.services.common import get_or_404


@transactional
async def create_product(session: AsyncSession, data: ProductCreate) -> Product:
    """Add a product; Conflict when its SKU is taken."""
    product = Product(name=data.name, sku=data.sku, price_cents=data.price_cents, stock=data.stock)
    session.add(product)
    try:
        await session.flush()
    except IntegrityError:
        raise Conflict(f"SKU {data.sku!r} is already used") from None
    return product


@transactional
async def update_product(session: AsyncSession, product_id: int, data: ProductUpdate) -> Product:
    """Restock or reprice a product (orders already placed keep their prices)."""
    product = await get_or_404(session, Product, product_id, "product", lock=True)
    for name, value in data.model_dump(exclude_none=True).items():
        setattr(product, name, value)
    await session.flush()
    return product


async def get_product(session: AsyncSession, product_id: int) -> Product:
    """One product, or NotFound."""
    return await get_or_404(session, Product, product_id, "product")


async def list_products(session: AsyncSession, after_id: int, limit: int) -> Sequence[Product]:
    """Up to `limit` products with an id above `after_id`, by id."""
    query = select(Product).where(Product.id > after_id).order_by(Product.id).limit(limit)
    return (await session.scalars(query)).all()


@transactional
async def create_customer(session: AsyncSession, data: CustomerCreate) -> Customer:
    """Add a customer; Conflict when the email is taken, whatever its case."""
    customer = Customer(name=data.name, email=data.email, email_key=data.email.lower())
    session.add(customer)
    try:
        await session.flush()
    except IntegrityError:
        raise Conflict(f"email {data.email!r} is already used") from None
    return customer


async def get_customer(session: AsyncSession, customer_id: int) -> Customer:
    """One customer, or NotFound."""
    return await get_or_404(session, Customer, customer_id, "customer")
