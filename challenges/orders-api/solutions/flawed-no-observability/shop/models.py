"""The shop's tables. Money is an integer number of cents; every timestamp is UTC."""

from __future__ import annotations

from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

MAX_ID = 2**63 - 1  # the largest BIGINT: no row has a larger id, and a larger one overflows a query


class Product(models.Model):
    """Something for sale; `stock` is only ever changed with conditional UPDATEs (see shop.orders)."""

    name = models.CharField(max_length=200)
    sku = models.CharField(max_length=64, unique=True)
    price_cents = models.PositiveBigIntegerField()
    stock = models.PositiveBigIntegerField()  # the CHECK (stock >= 0) is the last line against overselling
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.sku} ({self.name})"


class Customer(models.Model):
    """Someone who places orders; emails are unique whatever their case."""

    name = models.CharField(max_length=200)
    email = models.CharField(max_length=254)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(Lower("email"), name="customer_email_ci_unique")]

    def __str__(self) -> str:
        return self.email


class Order(models.Model):
    """An order and its status; its lines are OrderItem rows."""

    class Status(models.TextChoices):
        PLACED = "placed"
        CANCELLED = "cancelled"

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="orders")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PLACED)
    total_cents = models.PositiveBigIntegerField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        indexes = [
            # The revenue report and the order filters select on status and a created_at range.
            models.Index(fields=["status", "created_at"], name="order_status_created_idx"),
            models.Index(fields=["created_at"], name="order_created_idx"),
        ]

    def __str__(self) -> str:
        return f"order {self.pk} ({self.status})"


class OrderItem(models.Model):
    """One line of an order, with the unit price frozen when the order was placed."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="items")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="order_items")
    quantity = models.PositiveIntegerField()
    unit_price_cents = models.PositiveBigIntegerField()
    line_total_cents = models.PositiveBigIntegerField()

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["order", "product"], name="order_item_product_unique")]

    def __str__(self) -> str:
        return f"{self.quantity} x product {self.product_id}"


class IdempotencyKey(models.Model):
    """The order an `Idempotency-Key` created, and a fingerprint of the body that created it."""

    key = models.CharField(max_length=255, unique=True)
    fingerprint = models.CharField(max_length=64)
    order = models.OneToOneField(Order, on_delete=models.CASCADE, related_name="idempotency_key")
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.key
