"""Request bodies, validated with pydantic in strict mode: `"12"`, `12.5` and `true` are not integers."""

from __future__ import annotations

from typing import Annotated, Any, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator, model_validator

from app.errors import ValidationFailed

MAX_ID = 2**63 - 1  # the largest BIGINT

Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Sku = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
PriceCents = Annotated[int, Field(ge=0)]
Stock = Annotated[int, Field(ge=0)]
Id = Annotated[int, Field(ge=1, le=MAX_ID)]


class StrictModel(BaseModel):
    """Base of every request body: strict types, unknown fields ignored."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


class ProductCreate(StrictModel):
    """Body of `POST /v1/products`."""

    name: Name
    sku: Sku
    price_cents: PriceCents
    stock: Stock


class ProductUpdate(StrictModel):
    """Body of `PATCH /v1/products/{id}`: any of the mutable fields, at least one."""

    name: Name | None = None
    price_cents: PriceCents | None = None
    stock: Stock | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        if not self.changes():
            raise ValueError("give at least one of name, price_cents, stock")
        return self

    def changes(self) -> dict[str, Any]:
        """The fields the client sent with a value."""
        return {name: getattr(self, name) for name in self.model_fields_set if getattr(self, name) is not None}


class CustomerCreate(StrictModel):
    """Body of `POST /v1/customers`."""

    name: Name
    email: Annotated[str, StringConstraints(min_length=3, max_length=254)]

    @field_validator("email")
    @classmethod
    def _email_shape(cls, value: str) -> str:
        local, at, domain = value.partition("@")
        if not at or not local or not domain or "@" in domain:
            raise ValueError("must contain exactly one @ with text on both sides")
        return value


class OrderLine(StrictModel):
    """One line of `POST /v1/orders`."""

    product_id: Id
    quantity: Annotated[int, Field(ge=1, le=1000)]


class OrderCreate(StrictModel):
    """Body of `POST /v1/orders`."""

    customer_id: Id
    items: Annotated[list[OrderLine], Field(min_length=1, max_length=50)]

    @field_validator("items")
    @classmethod
    def _distinct_products(cls, items: list[OrderLine]) -> list[OrderLine]:
        product_ids = [item.product_id for item in items]
        if len(set(product_ids)) != len(product_ids):
            raise ValueError("each product may appear only once")
        return items


ModelT = TypeVar("ModelT", bound=StrictModel)


def parse_body(model: type[ModelT], payload: object) -> ModelT:
    """`payload` validated as `model`, or ValidationFailed (422) listing what is wrong where."""
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        details = [{"field": ".".join(str(part) for part in error["loc"]) or "body", "message": error["msg"]}
                   for error in exc.errors(include_url=False, include_context=False, include_input=False)]
        raise ValidationFailed("request body is invalid", details=details) from exc
