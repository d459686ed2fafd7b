"""Initial schema: products, customers, orders, order items, idempotency keys.

Revision ID: 0001
Revises:
Create Date: 2026-11-26 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Every integer column is 64-bit: BIGINT (BIGSERIAL for ids) on PostgreSQL; SQLite's INTEGER already is,
# and there only `INTEGER PRIMARY KEY` assigns ids by itself.
BigInt = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "products",
        sa.Column("id", BigInt, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("sku", sa.String(64), nullable=False),
        sa.Column("price_cents", BigInt, nullable=False),
        sa.Column("stock", BigInt, nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("price_cents >= 0", name="ck_products_price_cents_non_negative"),
        sa.CheckConstraint("stock >= 0", name="ck_products_stock_non_negative"),
        sa.UniqueConstraint("sku", name="uq_products_sku"),
    )
    op.create_table(
        "customers",
        sa.Column("id", BigInt, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("email"),
    )
    op.create_table(
        "orders",
        sa.Column("id", BigInt, primary_key=True),
        sa.Column("customer_id", BigInt, sa.ForeignKey("customers.id"), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("total_cents", BigInt, nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("status IN ('placed', 'cancelled')", name="ck_orders_status"),
    )
    op.create_table(
        "order_items",
        sa.Column("id", BigInt, primary_key=True),
        sa.Column("order_id", BigInt, sa.ForeignKey("orders.id"), nullable=False),
        sa.Column("product_id", BigInt, sa.ForeignKey("products.id"), nullable=False),
        sa.Column("quantity", BigInt, nullable=False),
        sa.Column("unit_price_cents", BigInt, nullable=False),
        sa.Column("line_total_cents", BigInt, nullable=False),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("order_id", BigInt, sa.ForeignKey("orders.id"), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("idempotency_keys")
    op.drop_table("order_items")
    op.drop_table("orders")
    op.drop_table("customers")
    op.drop_table("products")
