"""Request and response bodies.

Request models are strict: `"12"`, `12.5` and `true` are not integers, `12` is not a string.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, field_validator

MAX_INT = 2**63 - 1  # a signed 64-bit integer (BIGINT): anything larger cannot be stored


def format_timestamp(value: datetime) -> str:
    """ISO 8601 in UTC with a `Z` (stored datetimes are naive UTC)."""
    aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return aware.isoformat().replace("+00:00", "Z")


Timestamp = Annotated[datetime, PlainSerializer(format_timestamp, return_type=str)]
Id = Annotated[int, Field(ge=1, le=MAX_INT)]
Name = Annotated[str, Field(min_length=1, max_length=200)]
NonNegative = Annotated[int, Field(ge=0, le=MAX_INT)]


class StrictInput(BaseModel):
    """Base of request bodies: strict types; unknown fields are ignored."""

    model_config = ConfigDict(strict=True)


class Output(BaseModel):
    """Base of response bodies, built from ORM objects."""

    model_config = ConfigDict(from_attributes=True)


# --- products ---------------------------------------------------------------------------------------------


class ProductCreate(StrictInput):
    name: Name
    sku: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
    price_cents: NonNegative
    stock: NonNegative


class ProductUpdate(StrictInput):
    """`PATCH /v1/products/{id}`: restock or reprice; fields left out are unchanged."""

    price_cents: NonNegative | None = None
    stock: NonNegative | None = None


class ProductOut(Output):
    id: int
    name: str
    sku: str
    price_cents: int
    stock: int
    created_at: Timestamp


# --- customers --------------------------------------------------------------------------------------------


class CustomerCreate(StrictInput):
    name: Name
    email: Annotated[str, Field(max_length=254, pattern=r"^[^@]+@[^@]+$")]


class CustomerOut(Output):
    id: int
    name: str
    email: str
    created_at: Timestamp


# --- orders -----------------------------------------------------------------------------------------------


class OrderLineIn(StrictInput):
    product_id: Id
    quantity: Annotated[int, Field(ge=1, le=1000)]


class OrderCreate(StrictInput):
    customer_id: Id
    items: Annotated[list[OrderLineIn], Field(min_length=1, max_length=50)]

    @field_validator("items")
    @classmethod
    def products_are_distinct(cls, items: list[OrderLineIn]) -> list[OrderLineIn]:
        """The same product may not appear on two lines."""
        seen: set[int] = set()
        for line in items:
            if line.product_id in seen:
                raise ValueError(f"product {line.product_id} appears more than once")
            seen.add(line.product_id)
        return items


class OrderLineOut(Output):
    product_id: int
    quantity: int
    unit_price_cents: int
    line_total_cents: int


class OrderOut(Output):
    id: int
    customer_id: int
    status: str
    total_cents: int
    items: list[OrderLineOut]
    created_at: Timestamp


# --- lists, reports, errors -------------------------------------------------------------------------------

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a list; `next_cursor` is null on the last page."""

    items: list[T]
    next_cursor: str | None


class RevenueLine(BaseModel):
    product_id: int
    sku: str
    name: str
    units_sold: int
    revenue_cents: int


class RevenueReport(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: Annotated[Timestamp | None, Field(alias="from")]
    to: Timestamp | None
    total_revenue_cents: int
    items: list[RevenueLine]


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: list[dict[str, str]] | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


class Status(BaseModel):
    status: str
