"""The schema, as SQLAlchemy ORM classes (the migrations in migrations/versions create the same tables)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from app.timeutil import utcnow

ORDER_PLACED = "placed"
ORDER_CANCELLED = "cancelled"
ORDER_STATUSES = (ORDER_PLACED, ORDER_CANCELLED)


# Every integer column is 64-bit: BIGINT (BIGSERIAL for ids) on PostgreSQL. SQLite's INTEGER already is,
# and there only a column declared exactly `INTEGER PRIMARY KEY` gets its ids assigned automatically.
BigInt = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    """Declarative base of every table; `Mapped[int]` columns are BIGINT."""

    type_annotation_map: ClassVar[dict[Any, Any]] = {int: BigInt}


class Product(Base):
    """Something the shop sells, with its current price and stock."""

    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint("price_cents >= 0", name="ck_products_price_cents_non_negative"),
        CheckConstraint("stock >= 0", name="ck_products_stock_non_negative"),
        UniqueConstraint("sku", name="uq_products_sku"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    sku: Mapped[str] = mapped_column(String(64))
    price_cents: Mapped[int]
    stock: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Customer(Base):
    """Someone who places orders; emails are unique."""

    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Order(Base):
    """An order and its lines; `total_cents` is the sum of the lines, fixed when it is placed."""

    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint("status IN ('placed', 'cancelled')", name="ck_orders_status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    status: Mapped[str] = mapped_column(String(16), default=ORDER_PLACED)
    total_cents: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    items: Mapped[list[OrderItem]] = relationship(
        back_populates="order", order_by="OrderItem.id", cascade="all, delete-orphan")


class OrderItem(Base):
    """One line of an order, with the unit price the product had when the order was placed."""

    __tablename__ = "order_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    quantity: Mapped[int]
    unit_price_cents: Mapped[int]
    line_total_cents: Mapped[int]
    order: Mapped[Order] = relationship(back_populates="items")


class IdempotencyRecord(Base):
    """The outcome of a `POST /v1/orders` sent with an `Idempotency-Key`, kept so a retry gets it back."""

    __tablename__ = "idempotency_keys"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
