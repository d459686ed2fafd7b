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
    )
    # Emails are unique whatever their case.
    op.create_index("uq_customers_email_lower", "customers", [sa.text("lower(email)")], unique=True)
    op.create_table(
        "orders",
        sa.Column("id", BigInt, primary_key=True),
        sa.Column("customer_id", BigInt, sa.ForeignKey("customers.id"), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("total_cents", BigInt, nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("status IN ('placed', 'cancelled')", name="ck_orders_status"),
    )
    # GET /v1/orders?customer_id=... walks one customer's orders by id (`id > cursor ORDER BY id`).
    op.create_index("ix_orders_customer_id", "orders", ["customer_id", "id"])
    # created_from / created_to filters.
    op.create_index("ix_orders_created_at", "orders", ["created_at"])
    # The revenue report: placed orders in a time range.
    op.create_index("ix_orders_status_created_at", "orders", ["status", "created_at"])
    op.create_table(
        "order_items",
        sa.Column("id", BigInt, primary_key=True),
        sa.Column("order_id", BigInt, sa.ForeignKey("orders.id"), nullable=False),
        sa.Column("product_id", BigInt, sa.ForeignKey("products.id"), nullable=False),
        sa.Column("quantity", BigInt, nullable=False),
        sa.Column("unit_price_cents", BigInt, nullable=False),
        sa.Column("line_total_cents", BigInt, nullable=False),
        # one line per product per order; also the index that loads an order's lines
        sa.UniqueConstraint("order_id", "product_id", name="uq_order_items_order_id_product_id"),
    )
    # The report's GROUP BY product and the foreign key to products.
    op.create_index("ix_order_items_product_id", "order_items", ["product_id"])
    op.create_table(
        "idempotency_keys",
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("status_code", BigInt, nullable=False),
        sa.Column("order_id", BigInt, sa.ForeignKey("orders.id"), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("idempotency_keys")
    op.drop_index("ix_order_items_product_id", table_name="order_items")
    op.drop_table("order_items")
    op.drop_index("ix_orders_status_created_at", table_name="orders")
    op.drop_index("ix_orders_created_at", table_name="orders")
    op.drop_index("ix_orders_customer_id", table_name="orders")
    op.drop_table("orders")
    op.drop_index("uq_customers_email_lower", table_name="customers")
    op.drop_table("customers")
    op.drop_table("products")
