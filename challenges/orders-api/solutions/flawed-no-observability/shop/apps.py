from django.apps import AppConfig


class ShopConfig(AppConfig):
    """Products, customers, orders and the revenue report."""

    name = "shop"
    default_auto_field = "django.db.models.BigAutoField"
