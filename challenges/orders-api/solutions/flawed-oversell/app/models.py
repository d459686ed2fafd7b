"""ORM models. The tables are created from these at start-up (`Database.create_tables`)."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import BigInteger, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    """Now, as a naive UTC datetime (how timestamps are stored)."""
    return datetime.now(UTC).replace(tzinfo=None)


# Ids and amounts are 64-bit: BIGINT on PostgreSQL. SQLite's INTEGER is already 64-bit, and only a column
# declared exactly `INTEGER PRIMARY KEY` gets its ids assigned automatically there.
BigInt = BigInteger().with_variant(Integer(), "sqlite")


class OrderStatus(StrEnum):
    """Lifecycle of an order."""

    PLACED = "placed"
    CANCELLED = "cancelled"


class Base(DeclarativeBase):
    """Declarative base of every model."""


class Product(Base):
    """Something the shop sells, with what is left in stock."""

    __tablename__ = "products"

    id: Mapped[int] = mapped_column(BigInt, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    sku: Mapped[str] = mapped_column(String(64))
    price_cents: Mapped[int] = mapped_column(BigInt)
    stock: Mapped[int] = mapped_column(BigInt)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Customer(Base):
    """Someone who places orders."""

    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(BigInt, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Order(Base):
    """An order and its lines."""

    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(BigInt, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    status: Mapped[str] = mapped_column(String(16), default=OrderStatus.PLACED.value)
    total_cents: Mapped[int] = mapped_column(BigInt)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    items: Mapped[list[OrderItem]] = relationship(
        back_populates="order", order_by="OrderItem.position", lazy="selectin", cascade="all, delete-orphan"
    )


class OrderItem(Base):
    """One line of an order, with the unit price the product had when the order was placed."""

    __tablename__ = "order_items"

    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price_cents: Mapped[int] = mapped_column(BigInt)
    line_total_cents: Mapped[int] = mapped_column(BigInt)

    order: Mapped[Order] = relationship(back_populates="items")
