"""Traces (OpenTelemetry, exported over OTLP/HTTP) and Prometheus metrics.

Tracing is configured from the standard variables: with OTEL_EXPORTER_OTLP_ENDPOINT (or
OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) set, spans are batched to that collector; without it they are made (so
the `traceparent` still propagates) but not exported. OTEL_SERVICE_NAME names the service.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Span, SpanKind
from prometheus_client import Counter, Gauge, Histogram

SERVICE_NAME = "shortener"
tracer = trace.get_tracer("shortener")

REQUESTS = Counter("http_requests", "HTTP requests answered, by route template.", ["method", "route", "status"])
LATENCY = Histogram("http_request_duration_seconds", "Time to answer a request, by route template.",
                    ["method", "route"])
CACHE_HITS = Counter("cache_hits", "Lookups answered from the Redis cache.", ["cache"])
CACHE_MISSES = Counter("cache_misses", "Lookups the Redis cache could not answer.", ["cache"])
QUEUE_DEPTH = Gauge("click_queue_depth", "Clicks waiting for the worker (read at each scrape).")

_provider: TracerProvider | None = None


def setup_tracing() -> TracerProvider:
    """Install the tracer provider once per process (an exporter only when an endpoint is configured)."""
    global _provider
    if _provider is not None:
        return _provider
    name = os.environ.get("OTEL_SERVICE_NAME") or SERVICE_NAME
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    if os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    _provider = provider
    return provider


def flush_traces() -> None:
    """Export the spans still batched (at shutdown)."""
    if _provider is not None:
        _provider.force_flush()


@contextmanager
def db_span(operation: str, statement: str, system: str = "postgresql") -> Iterator[Span]:
    """A client span around one database call."""
    with tracer.start_as_current_span(f"{operation} {system}", kind=SpanKind.CLIENT) as span:
        span.set_attribute("db.system", system)
        span.set_attribute("db.system.name", system)
        span.set_attribute("db.operation.name", operation)
        span.set_attribute("db.query.text", statement)
        yield span


def cache_lookup(cache: str, hit: bool) -> None:
    """Count one cache lookup."""
    (CACHE_HITS if hit else CACHE_MISSES).labels(cache=cache).inc()
