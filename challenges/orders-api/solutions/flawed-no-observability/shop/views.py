"""HTTP endpoints. Views parse and validate, call shop.orders / shop.reports, and shape the answer."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from shop import orders
from shop.api import (
    format_timestamp,
    optional,
    parse_choice,
    parse_limit,
    parse_positive_int,
    parse_timestamp,
    read_json_body,
)
from shop.errors import Conflict, NotFound, RateLimited, ValidationFailed
from shop.models import MAX_ID, Customer, Order, Product
from shop.pagination import paginate
from shop.ratelimit import order_creations
from shop.reports import revenue_rows
from shop.serializers import (
    CustomerSerializer,
    OrderInputSerializer,
    OrderSerializer,
    ProductSerializer,
)

logger = logging.getLogger(__name__)

IDEMPOTENCY_HEADER = "Idempotency-Key"
MAX_IDEMPOTENCY_KEY = 255
Handler = Callable[..., Response]


def with_json_body(handler: Handler) -> Handler:
    """Decorator for view methods: decode the JSON body (400 when it is not JSON) and pass it as `payload`.

    The body is read whatever its Content-Type, so a client that forgets the header still gets a useful
    answer instead of a 415.
    """

    @functools.wraps(handler)
    def wrapper(view: APIView, request: Request, *args: Any, **kwargs: Any) -> Response:
        return handler(view, request, read_json_body(request.body), *args, **kwargs)

    return wrapper


@contextmanager
def conflict_on_duplicate(message: str) -> Iterator[None]:
    """Turn a unique-constraint violation inside the block into a 409 (the block runs in a transaction)."""
    try:
        with transaction.atomic():
            yield
    except IntegrityError as exc:
        logger.error(f"integrity error: {exc}")
        raise Conflict(message) from None


def validated(serializer: Any) -> dict[str, Any]:
    """The serializer's validated data; a 422 with per-field details otherwise."""
    serializer.is_valid(raise_exception=True)
    data: dict[str, Any] = serializer.validated_data
    return data


def get_or_404(queryset: Any, pk: int, label: str) -> Any:
    """The row with this id, or a 404 that names it."""
    found = queryset.filter(pk=pk).first() if pk <= MAX_ID else None
    if found is None:
        raise NotFound(f"{label} {pk} not found")
    return found


class HealthView(APIView):
    """Liveness: the process answers. No database access."""

    def get(self, request: Request) -> Response:
        return Response({"status": "ok"})


class ProductListView(APIView):
    """POST creates a product; GET lists them, a page at a time."""

    @with_json_body
    def post(self, request: Request, payload: Any) -> Response:
        data = validated(ProductSerializer(data=payload))
        with conflict_on_duplicate(f"sku {data['sku']!r} is already used"):
            product = Product.objects.create(**data)
        return Response(ProductSerializer(product).data, status=status.HTTP_201_CREATED)

    def get(self, request: Request) -> Response:
        params = request.query_params
        page = paginate(Product.objects.all(), parse_limit(optional(params, "limit")), optional(params, "cursor"))
        return Response({"items": ProductSerializer(page.items, many=True).data, "next_cursor": page.next_cursor})


class ProductDetailView(APIView):
    """GET a product; PATCH changes its name, price or stock (restocking)."""

    def get(self, request: Request, product_id: int) -> Response:
        return Response(ProductSerializer(get_or_404(Product.objects, product_id, "product")).data)

    @with_json_body
    def patch(self, request: Request, payload: Any, product_id: int) -> Response:
        product = get_or_404(Product.objects, product_id, "product")
        data = validated(ProductSerializer(product, data=payload, partial=True))
        with conflict_on_duplicate(f"sku {data.get('sku')!r} is already used"):
            Product.objects.filter(pk=product_id).update(**data)
        product.refresh_from_db()
        return Response(ProductSerializer(product).data)


class CustomerListView(APIView):
    """POST creates a customer (emails are unique whatever their case)."""

    @with_json_body
    def post(self, request: Request, payload: Any) -> Response:
        data = validated(CustomerSerializer(data=payload))
        with conflict_on_duplicate(f"email {data['email']!r} is already used"):
            customer = Customer.objects.create(**data)
        return Response(CustomerSerializer(customer).data, status=status.HTTP_201_CREATED)


class CustomerDetailView(APIView):
    """GET a customer."""

    def get(self, request: Request, customer_id: int) -> Response:
        return Response(CustomerSerializer(get_or_404(Customer.objects, customer_id, "customer")).data)


def idempotency_request(request: Request, payload: Any) -> orders.IdempotencyRequest | None:
    """The Idempotency-Key header (1-255 characters) with the body's fingerprint, None without the header."""
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        return None
    if not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY:
        raise ValidationFailed(f"{IDEMPOTENCY_HEADER} must be 1 to {MAX_IDEMPOTENCY_KEY} characters")
    return orders.IdempotencyRequest(key, orders.body_fingerprint(payload))


def enforce_order_rate_limit(customer_id: int) -> None:
    """Count an order creation for the customer; 429 with Retry-After beyond ORDERS_PER_MINUTE."""
    retry_after = order_creations.hit(customer_id, settings.ORDERS_PER_MINUTE)
    if retry_after is not None:
        print(f"rate limit hit: customer {customer_id}, retry after {retry_after}s")
        raise RateLimited(
            f"too many orders for customer {customer_id}: at most {settings.ORDERS_PER_MINUTE} per minute",
            {"retry_after_s": retry_after},
            headers={"Retry-After": str(retry_after)},
        )


def order_filters(params: Any) -> dict[str, Any]:
    """ORM filters from the query string of GET /v1/orders (status, customer_id, created_from, created_to)."""
    filters: dict[str, Any] = {}
    parsers: dict[str, tuple[str, Callable[[str, str], Any]]] = {
        "status": ("status", lambda name, raw: parse_choice(name, raw, Order.Status.values)),
        "customer_id": ("customer_id", parse_positive_int),
        "created_from": ("created_at__gte", parse_timestamp),
        "created_to": ("created_at__lt", parse_timestamp),
    }
    for name, (lookup, parse) in parsers.items():
        raw = optional(params, name)
        if raw is not None:
            filters[lookup] = parse(name, raw)
    return filters


class OrderListView(APIView):
    """POST places an order; GET lists orders, filtered, a page at a time."""

    @with_json_body
    def post(self, request: Request, payload: Any) -> Response:
        idempotency = idempotency_request(request, payload)
        if idempotency is not None and (earlier := orders.find_replay(idempotency)) is not None:
            return Response(OrderSerializer(earlier).data, status=status.HTTP_201_CREATED,
                            headers={"Idempotent-Replayed": "true"})
        customer_id = orders.known_customer_id(payload)
        if customer_id is not None:
            enforce_order_rate_limit(customer_id)
        data = validated(OrderInputSerializer(data=payload))
        if customer_id is None:
            raise ValidationFailed(f"customer {data['customer_id']} does not exist",
                                   {"customer_id": data["customer_id"]})
        lines = [orders.OrderLine(item["product_id"], item["quantity"]) for item in data["items"]]
        print("placing order", customer_id, lines)
        order = orders.place_order(customer_id, lines, idempotency)
        return Response(OrderSerializer(order).data, status=status.HTTP_201_CREATED)

    def get(self, request: Request) -> Response:
        params = request.query_params
        limit = parse_limit(optional(params, "limit"))
        queryset = orders.orders_with_items().filter(**order_filters(params))
        page = paginate(queryset, limit, optional(params, "cursor"))
        return Response({"items": OrderSerializer(page.items, many=True).data, "next_cursor": page.next_cursor})


class OrderDetailView(APIView):
    """GET an order with its lines."""

    def get(self, request: Request, order_id: int) -> Response:
        return Response(OrderSerializer(get_or_404(orders.orders_with_items(), order_id, "order")).data)


class OrderCancelView(APIView):
    """POST cancels a placed order and restocks its products."""

    def post(self, request: Request, order_id: int) -> Response:
        if order_id > MAX_ID:
            raise NotFound(f"order {order_id} not found")
        print("cancel order", order_id)
        return Response(OrderSerializer(orders.cancel_order(order_id)).data)


class RevenueReportView(APIView):
    """GET /v1/reports/revenue?from=&to=: revenue of placed orders per product."""

    def get(self, request: Request) -> Response:
        raw_from, raw_to = optional(request.query_params, "from"), optional(request.query_params, "to")
        start = parse_timestamp("from", raw_from) if raw_from is not None else None
        end = parse_timestamp("to", raw_to) if raw_to is not None else None
        items = revenue_rows(start, end)
        return Response({
            "from": format_timestamp(start) if start is not None else None,
            "to": format_timestamp(end) if end is not None else None,
            "total_revenue_cents": sum(item["revenue_cents"] for item in items),
            "items": items,
        })
