"""ORM models. The schema itself is owned by the Alembic migrations in `migrations/`."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Index, Integer, String
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
    __table_args__ = (
        CheckConstraint("stock >= 0", name="ck_products_stock_non_negative"),
        CheckConstraint("price_cents >= 0", name="ck_products_price_non_negative"),
    )

    id: Mapped[int] = mapped_column(BigInt, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    sku: Mapped[str] = mapped_column(String(64), unique=True)
    price_cents: Mapped[int] = mapped_column(BigInt)
    stock: Mapped[int] = mapped_column(BigInt)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Customer(Base):
    """Someone who places orders; `email_key` (the lower-cased email) is what makes an email unique."""

    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(BigInt, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254))
    email_key: Mapped[str] = mapped_column(String(254), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Order(Base):
    """An order and, when it was placed with an Idempotency-Key, the key and a fingerprint of its body."""

    __tablename__ = "orders"
    __table_args__ = (
        Index("ix_orders_customer_id_id", "customer_id", "id"),
        Index("ix_orders_status_created_at", "status", "created_at"),
        Index("ix_orders_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInt, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    status: Mapped[str] = mapped_column(String(16), default=OrderStatus.PLACED.value)
    total_cents: Mapped[int] = mapped_column(BigInt)
    idempotency_key: Mapped[str | None] = mapped_column(String(255), unique=True)
    request_fingerprint: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    items: Mapped[list[OrderItem]] = relationship(
        back_populates="order", order_by="OrderItem.position", lazy="selectin", cascade="all, delete-orphan"
    )


class OrderItem(Base):
    """One line of an order, with the unit price the product had when the order was placed."""

    __tablename__ = "order_items"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="ck_order_items_quantity_positive"),
        Index("ix_order_items_product_id", "product_id"),
    )

    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price_cents: Mapped[int] = mapped_column(BigInt)
    line_total_cents: Mapped[int] = mapped_column(BigInt)

    order: Mapped[Order] = relationship(back_populates="items")
