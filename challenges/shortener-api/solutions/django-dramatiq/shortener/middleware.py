"""Per request: an X-Request-ID, a SERVER span continuing the caller's `traceparent` (database calls as
spans below it), request metrics by route template, one JSON log line, API errors as JSON."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable

from django.db import connection
from django.http import HttpRequest, HttpResponse
from opentelemetry import context, propagate, trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from shortener.errors import ApiError
from shortener.logs import request_id
from shortener.telemetry import LATENCY, REQUESTS, route_template, traced_query, tracer

logger = logging.getLogger("shortener.requests")
REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


class ObservabilityMiddleware:
    """The one middleware of the project (see the module docstring)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        sent = request.headers.get("X-Request-ID")
        rid = sent if sent and REQUEST_ID_PATTERN.fullmatch(sent) else uuid.uuid4().hex
        rid_token = request_id.set(rid)
        started = time.perf_counter()
        carrier = {name.lower(): value for name, value in request.headers.items()}
        span = tracer.start_span(request.method or "HTTP", kind=SpanKind.SERVER, context=propagate.extract(carrier))
        span_token = context.attach(trace.set_span_in_context(span))
        try:
            with connection.execute_wrapper(traced_query):
                response = self.get_response(request)
            response["X-Request-ID"] = rid
            self._record(request, response, span, time.perf_counter() - started)
            return response
        finally:
            span.end()
            context.detach(span_token)
            request_id.reset(rid_token)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        """An ApiError raised by a view becomes its JSON answer; anything else goes to handler500."""
        if isinstance(exception, ApiError):
            return exception.response()
        return None  # Django logs it (django.request, with the traceback) and answers with handler500

    @staticmethod
    def _record(request: HttpRequest, response: HttpResponse, span: Span, elapsed_s: float) -> None:
        method = request.method or "HTTP"
        match = getattr(request, "resolver_match", None)
        route = route_template(match.route if match is not None else None)
        status = response.status_code
        REQUESTS.labels(method=method, route=route, status=str(status)).inc()
        LATENCY.labels(method=method, route=route).observe(elapsed_s)
        span.update_name(f"{method} {route}")
        span.set_attribute("http.request.method", method)
        span.set_attribute("http.route", route)
        span.set_attribute("url.path", request.path)
        span.set_attribute("http.response.status_code", status)
        if status >= 500:
            span.set_status(Status(StatusCode.ERROR))
        logger.log(logging.ERROR if status >= 500 else logging.INFO, "request", extra={
            "method": method, "path": request.path, "route": route, "status": status,
            "duration_ms": round(elapsed_s * 1000, 2)})
