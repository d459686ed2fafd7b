"""Products and customers."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import Database
from app.errors import Conflict
from app.models import Customer, Product
from app.product_cache import ProductCache
from app.schemas import CustomerCreate, ProductCreate, ProductUpdate
from app.services.common import get_or_404


async def create_product(db: Database, data: ProductCreate) -> Product:
    """Add a product; Conflict when its SKU is taken."""
    async with db.session() as session:
        if await session.scalar(select(Product.id).where(Product.sku == data.sku)) is not None:
            raise Conflict(f"SKU {data.sku!r} is already used")
        product = Product(name=data.name, sku=data.sku, price_cents=data.price_cents, stock=data.stock)
        session.add(product)
        await session.commit()
    return product


async def update_product(db: Database, cache: ProductCache, product_id: int, data: ProductUpdate) -> Product:
    """Restock or reprice a product (orders already placed keep their prices)."""
    async with db.session() as session:
        product = await get_or_404(session, Product, product_id, "product")
        for name, value in data.model_dump(exclude_none=True).items():
            setattr(product, name, value)
        await session.commit()
    cache.invalidate(product_id)
    return product


async def get_product(session: AsyncSession, product_id: int) -> Product:
    """One product, or NotFound."""
    return await get_or_404(session, Product, product_id, "product")


async def list_products(session: AsyncSession, after_id: int, limit: int) -> Sequence[Product]:
    """Up to `limit` products with an id above `after_id`, by id."""
    query = select(Product).where(Product.id > after_id).order_by(Product.id).limit(limit)
    return (await session.scalars(query)).all()


async def create_customer(db: Database, data: CustomerCreate) -> Customer:
    """Add a customer; Conflict when the email is taken, whatever its case."""
    async with db.session() as session:
        taken = await session.scalar(select(Customer.id).where(func.lower(Customer.email) == data.email.lower()))
        if taken is not None:
            raise Conflict(f"email {data.email!r} is already used")
        customer = Customer(name=data.name, email=data.email)
        session.add(customer)
        await session.commit()
    return customer


async def get_customer(session: AsyncSession, customer_id: int) -> Customer:
    """One customer, or NotFound."""
    return await get_or_404(session, Customer, customer_id, "customer")
