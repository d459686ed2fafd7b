"""Traces (OpenTelemetry, exported over OTLP/HTTP) and Prometheus metrics.

Tracing is configured from the standard variables: with OTEL_EXPORTER_OTLP_ENDPOINT (or
OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) set, spans are batched to that collector; without one they are still
made (so `traceparent` propagates) but not exported. OTEL_SERVICE_NAME names the service.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode
from prometheus_client import Counter, Gauge, Histogram

SERVICE_NAME = "shortener"
tracer = trace.get_tracer("shortener")

REQUESTS = Counter("http_requests", "HTTP requests answered, by route template.", ["method", "route", "status"])
LATENCY = Histogram("http_request_duration_seconds", "Time to answer a request, by route template.",
                    ["method", "route"])
CACHE_HITS = Counter("cache_hits", "Lookups answered from the Redis cache.", ["cache"])
CACHE_MISSES = Counter("cache_misses", "Lookups the Redis cache could not answer.", ["cache"])
QUEUE_DEPTH = Gauge("click_queue_depth", "Click messages not yet processed in the Dramatiq queue (read at scrape).")


@functools.cache
def setup_tracing() -> TracerProvider:
    """Install the tracer provider once per process (with an exporter only when an endpoint is set)."""
    name = os.environ.get("OTEL_SERVICE_NAME") or SERVICE_NAME
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    if os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    return provider


def traced_query(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
    """A Django execute wrapper: each database call a CLIENT span with OpenTelemetry's db attributes."""
    operation = sql.split(None, 1)[0].upper() if sql.strip() else "QUERY"
    with tracer.start_as_current_span(f"{operation} postgresql", kind=SpanKind.CLIENT) as span:
        span.set_attribute("db.system", "postgresql")
        span.set_attribute("db.system.name", "postgresql")
        span.set_attribute("db.operation.name", operation)
        span.set_attribute("db.query.text", sql)
        try:
            return execute(sql, params, many, context)
        except Exception as exc:
            span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            raise


def cache_lookup(cache: str, hit: bool) -> None:
    """Count one cache lookup as a hit or a miss."""
    (CACHE_HITS if hit else CACHE_MISSES).labels(cache=cache).inc()


def route_template(route: str | None) -> str:
    """A Django route as a template label (`v1/links/<str:code>` -> `/v1/links/{code}`); one for no match."""
    if route is None:
        return "unmatched"
    return "/" + re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", route).lstrip("^").rstrip("$")
