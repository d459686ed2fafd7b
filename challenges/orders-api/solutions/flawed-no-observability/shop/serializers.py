"""Request validation and response shapes.

DRF's fields coerce by default (`"12"` -> 12, `12` -> `"12"`); the contract says strings must be strings
and integers integers, so the input fields here are strict.
"""

from __future__ import annotations

from typing import Any

from django.core.validators import RegexValidator
from rest_framework import serializers

from shop.models import MAX_ID, Customer, Order, OrderItem, Product

MAX_AMOUNT = 2**53 - 1  # exact in every JSON parser, and far from BIGINT's 64-bit limit even when summed
MAX_ORDER_LINES = 50
MAX_QUANTITY = 1000
SKU_FORMAT = RegexValidator(r"^[A-Za-z0-9_-]+\Z", "sku may only contain letters, digits, '-' and '_'")


class StrictIntegerField(serializers.IntegerField):
    """An integer that is a JSON integer: not a string, a float or a boolean."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return int(super().to_internal_value(data))


class StrictCharField(serializers.CharField):
    """A string that is a JSON string, kept as sent (no trimming)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return str(super().to_internal_value(data))


class ProductSerializer(serializers.ModelSerializer):
    """A product, in and out. Uniqueness of `sku` is left to the database (a 409, not a 422)."""

    name = StrictCharField(min_length=1, max_length=200)
    sku = StrictCharField(min_length=1, max_length=64, validators=[SKU_FORMAT])
    price_cents = StrictIntegerField(min_value=0, max_value=MAX_AMOUNT)
    stock = StrictIntegerField(min_value=0, max_value=MAX_AMOUNT)

    class Meta:
        model = Product
        fields = ["id", "name", "sku", "price_cents", "stock", "created_at"]
        read_only_fields = ["id", "created_at"]


def validate_email(value: str) -> str:
    """One `@` with text on both sides."""
    local, at, domain = value.partition("@")
    if not at or not local.strip() or not domain.strip() or "@" in domain:
        raise serializers.ValidationError("email must contain one '@' with text on both sides")
    return value


class CustomerSerializer(serializers.ModelSerializer):
    """A customer, in and out. Case-insensitive uniqueness of `email` is a database constraint."""

    name = StrictCharField(min_length=1, max_length=200)
    email = StrictCharField(min_length=3, max_length=254, validators=[validate_email])

    class Meta:
        model = Customer
        fields = ["id", "name", "email", "created_at"]
        read_only_fields = ["id", "created_at"]


class OrderLineInputSerializer(serializers.Serializer):
    """One requested line: a product and a quantity."""

    product_id = StrictIntegerField(min_value=1, max_value=MAX_ID)
    quantity = StrictIntegerField(min_value=1, max_value=MAX_QUANTITY)


class OrderInputSerializer(serializers.Serializer):
    """The body of POST /v1/orders."""

    customer_id = StrictIntegerField(min_value=1, max_value=MAX_ID)
    items = OrderLineInputSerializer(many=True, allow_empty=False, max_length=MAX_ORDER_LINES)

    def validate_items(self, items: list[dict[str, int]]) -> list[dict[str, int]]:
        product_ids = [item["product_id"] for item in items]
        if len(set(product_ids)) != len(product_ids):
            raise serializers.ValidationError("a product may appear only once per order")
        return items


class OrderItemSerializer(serializers.ModelSerializer):
    """One line of an order as the API shows it."""

    product_id = serializers.IntegerField(read_only=True)

    class Meta:
        model = OrderItem
        fields = ["product_id", "quantity", "unit_price_cents", "line_total_cents"]
        read_only_fields = fields


class OrderSerializer(serializers.ModelSerializer):
    """An order as the API shows it (output only: orders are created by shop.orders.place_order)."""

    customer_id = serializers.IntegerField(read_only=True)
    items = OrderItemSerializer(many=True, read_only=True)

    class Meta:
        model = Order
        fields = ["id", "customer_id", "status", "total_cents", "items", "created_at"]
        read_only_fields = fields
