"""Operating the service: request ids, readiness of its dependencies, one JSON log line per request,
OpenTelemetry traces (exported to the grader's OTLP receiver) and Prometheus metrics at /metrics.

Spans arrive in batches, so the trace tests wait with the `traces` fixture's deadline; the metrics tests
compare two scrapes around their own requests (counters only grow), so earlier tests do not matter. With two
replicas each process counts its own requests: the metrics tests talk to one instance (`replicas[0]`) only.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from _shortener import check_calls, create_link, instance, unique_url

from checks.metrics import MetricsSnapshot
from checks.otlp import ReceivedSpan
from checks.pytest_plugin import AppLog, MetricsScraper, Traces
from checks.upstream import FakeUpstream

pytestmark = pytest.mark.category("observability")


def test_a_request_id_is_echoed(client: httpx.Client) -> None:
    sent = f"req-{uuid.uuid4().hex}"
    response = client.get("/health", headers={"X-Request-ID": sent})
    echoed = response.headers.get("x-request-id")
    assert echoed == sent, f"X-Request-ID {sent!r} came back as {echoed!r}"


@pytest.mark.parametrize("path", ["/health", "/doesNotExist42"])
def test_a_request_id_is_generated_when_absent(client: httpx.Client, path: str) -> None:
    first = client.get(path).headers.get("x-request-id")
    second = client.get(path).headers.get("x-request-id")
    assert first and second and first != second, f"GET {path} needs a fresh X-Request-ID: {first!r}, {second!r}"


@pytest.mark.category("observability", weight=2)
def test_ready_is_200_when_the_database_and_redis_answer(client: httpx.Client) -> None:
    response = client.get("/ready")
    assert response.status_code == 200, f"/ready answered {response.status_code} while PostgreSQL and Redis are up"


@pytest.mark.category("observability", weight=2)
def test_each_request_writes_a_json_log_line_with_its_request_id(client: httpx.Client, app_log: AppLog) -> None:
    sent = f"log-{uuid.uuid4().hex}"
    client.get("/v1/links/doesNotExist42/stats", headers={"X-Request-ID": sent})
    def carries_it(line: dict[str, Any]) -> bool:
        return sent in map(str, line.values())

    # a correct app may write the line just after its response: wait for it (app_log.json_lines, `until`)
    written = app_log.json_lines(until=lambda lines: any(map(carries_it, lines)))
    lines = [line for line in written if carries_it(line)]
    assert lines, f"no JSON log line carries the request id {sent!r}: log each request as one JSON object"


# --- traces ---------------------------------------------------------------------------------------------

TRACE_WAIT_S = 15.0  # batches leave every 0.5 s (OTEL_BSP_SCHEDULE_DELAY); a loaded machine may take seconds
SILENT_APP_WAIT_S = 5.0  # when the app has exported no span at all this suite, do not wait 15 s per test
SILENT_AGAIN_WAIT_S = 1.0  # ... and once one test waited that out for nothing, the next ones wait a batch or two
_silent_waits: list[float] = []  # the silent deadlines already given this suite (the trace tests share one wait)


def _trace_wait_s(traces: Traces) -> float:
    """The full deadline once the app has exported anything; a short one for an app that never exports, and
    shorter still after one test waited in vain: the three trace tests share one wait for a silent app."""
    if traces.receiver.count() > 0:
        return TRACE_WAIT_S
    wait_s = SILENT_AGAIN_WAIT_S if _silent_waits else SILENT_APP_WAIT_S
    _silent_waits.append(wait_s)
    return wait_s


def _server_span(spans: list[ReceivedSpan], trace_id: str) -> ReceivedSpan | None:
    return next((span for span in spans if span.trace_id == trace_id and span.kind == "SERVER"), None)


def _descends_from(span: ReceivedSpan, ancestor: ReceivedSpan, spans: list[ReceivedSpan]) -> bool:
    """Whether `span` is `ancestor`'s child, grandchild... among `spans` (instrumentations may add layers)."""
    by_id = {candidate.span_id: candidate for candidate in spans if candidate.trace_id == span.trace_id}
    current: ReceivedSpan | None = span
    for _ in range(len(by_id) + 1):
        if current is None or current.parent_span_id is None:
            return False
        if current.parent_span_id == ancestor.span_id:
            return True
        current = by_id.get(current.parent_span_id)
    return False


def _is_database_span(span: ReceivedSpan) -> bool:
    system = span.attributes.get("db.system") or span.attributes.get("db.system.name")
    return isinstance(system, str) and "postgres" in system.lower()


@pytest.mark.category("observability", weight=4)
def test_a_request_continues_the_callers_trace(client: httpx.Client, traces: Traces,
                                                safety: FakeUpstream) -> None:
    code = create_link(client)["code"]
    traceparent, trace_id, parent_id = traces.new_traceparent()
    assert client.get(f"/v1/links/{code}", headers={"traceparent": traceparent}).status_code == 200
    server = traces.wait_for_span(kind="SERVER", trace_id=trace_id, timeout_s=_trace_wait_s(traces))
    assert server.parent_span_id == parent_id, (
        f"the server span of a request sent with traceparent {traceparent!r} has parent "
        f"{server.parent_span_id!r}, not the caller's span {parent_id!r}: continue the incoming trace")


@pytest.mark.category("observability", weight=4)
def test_the_safety_call_is_a_child_span_and_carries_the_trace(client: httpx.Client, traces: Traces,
                                                                safety: FakeUpstream) -> None:
    traceparent, trace_id, _ = traces.new_traceparent()
    response = client.post("/v1/links", json={"url": unique_url("traced")},
                           headers={"X-API-Key": f"key-{uuid.uuid4().hex}", "traceparent": traceparent})
    assert response.status_code == 201, f"POST /v1/links answered {response.status_code}: {response.text[:300]}"

    def has_upstream_child(spans: list[ReceivedSpan]) -> bool:
        server = _server_span(spans, trace_id)
        return server is not None and any(
            span.kind == "CLIENT" and not _is_database_span(span) and _descends_from(span, server, spans)
            for span in spans)

    traces.wait_for(has_upstream_child, f"a server span in trace {trace_id[:8]} with a CLIENT span below it "
                                        "for the safety call", _trace_wait_s(traces))
    sent = [call.headers.get("traceparent", "") for call in check_calls(safety)]
    assert sent, "the app did not call the safety service"
    assert any(header.split("-")[1:2] == [trace_id] for header in sent), (
        f"the safety service received traceparent {sent[-1]!r}, not one of the request's trace {trace_id}: "
        "propagate the trace context to the upstream call")


@pytest.mark.category("observability", weight=4)
def test_database_calls_are_spans_of_the_request(client: httpx.Client, traces: Traces,
                                                 safety: FakeUpstream) -> None:
    code = create_link(client)["code"]
    traceparent, trace_id, _ = traces.new_traceparent()
    assert client.get(f"/v1/links/{code}/stats", headers={"traceparent": traceparent}).status_code == 200

    def has_database_child(spans: list[ReceivedSpan]) -> bool:
        server = _server_span(spans, trace_id)
        return server is not None and any(
            _is_database_span(span) and _descends_from(span, server, spans) for span in spans)

    traces.wait_for(has_database_child, f"a span with db.system 'postgresql' below the server span of trace "
                                        f"{trace_id[:8]} (GET /v1/links/{{code}}/stats reads PostgreSQL)",
                    _trace_wait_s(traces))


# --- metrics --------------------------------------------------------------------------------------------


@pytest.fixture
def one_instance(replicas: list[str]) -> Iterator[httpx.Client]:
    """A client bound to the first instance: its requests and its scrapes meet the same process's counters."""
    with instance(replicas[0]) as http:
        yield http


@pytest.fixture
def instance_metrics(one_instance: httpx.Client) -> MetricsScraper:
    """`metrics` of the first instance only (the round-robin proxy would alternate between two processes)."""
    return MetricsScraper(one_instance)

REQUESTS = "http_requests_total"
LATENCY_COUNT = "http_request_duration_seconds_count"
REDIRECT_ROUTES = ("/{code}", "/<code>", "/:code")  # FastAPI/Starlette, Flask/Django and other spellings
METRICS_WAIT_S = 10.0  # an app may count a request just after answering it: scrape again until then


def _scrape_until(metrics: MetricsScraper, done: Callable[[MetricsSnapshot], bool]) -> MetricsSnapshot:
    """Scrape until `done` holds or the deadline passes; the last snapshot either way."""
    deadline = time.monotonic() + METRICS_WAIT_S
    snapshot = metrics()
    while not done(snapshot) and time.monotonic() < deadline:
        time.sleep(0.2)
        snapshot = metrics()
    return snapshot


def _redirects_counted(snapshot: MetricsSnapshot, name: str) -> float:
    return sum(snapshot.total(name, {"route": route}) for route in REDIRECT_ROUTES)


@pytest.mark.category("observability", weight=4)
def test_requests_are_counted_by_route_template(one_instance: httpx.Client, instance_metrics: MetricsScraper,
                                                safety: FakeUpstream) -> None:
    code = create_link(one_instance)["code"]
    before = instance_metrics()
    for _ in range(3):
        assert one_instance.get(f"/{code}", follow_redirects=False).status_code == 302
    after = _scrape_until(instance_metrics, lambda now: all(
        _redirects_counted(now, name) - _redirects_counted(before, name) >= 3 for name in (REQUESTS, LATENCY_COUNT)))
    counted = _redirects_counted(after, REQUESTS) - _redirects_counted(before, REQUESTS)
    routes = sorted(after.label_values(REQUESTS, "route"))
    assert counted >= 3, (
        f"3 redirects raised {REQUESTS}{{route=\"/{{code}}\"}} by {counted:g}; routes seen: {routes[:10]}: "
        "count requests with a `route` label holding the route template")
    assert not any(code in route for route in routes), (
        f"{REQUESTS} has a route label holding the raw path (code {code!r}): label by the route template, "
        "or every link becomes a time series")
    timed = _redirects_counted(after, LATENCY_COUNT) - _redirects_counted(before, LATENCY_COUNT)
    assert timed >= 3, (
        f"3 redirects raised {LATENCY_COUNT}{{route=\"/{{code}}\"}} by {timed:g}: record each request's "
        "latency in the histogram http_request_duration_seconds by route template")


@pytest.mark.category("observability", weight=4)
def test_cache_hits_and_misses_are_counted(one_instance: httpx.Client, instance_metrics: MetricsScraper,
                                           safety: FakeUpstream) -> None:
    before = instance_metrics()
    code = create_link(one_instance)["code"]  # a new URL: the verdict cache misses
    for _ in range(3):  # the first redirect may miss the link cache, the next ones hit it
        assert one_instance.get(f"/{code}", follow_redirects=False).status_code == 302

    def moved(name: str, now: MetricsSnapshot) -> float:
        return now.total(name) - before.total(name)

    after = _scrape_until(instance_metrics, lambda now: moved("cache_hits_total", now) >= 1
                          and moved("cache_misses_total", now) >= 1)
    hits = after.total("cache_hits_total") - before.total("cache_hits_total")
    misses = after.total("cache_misses_total") - before.total("cache_misses_total")
    assert hits >= 1 and misses >= 1, (
        f"a new link and 3 redirects of it moved cache_hits_total by {hits:g} and cache_misses_total by "
        f"{misses:g}: count every cache lookup as a hit or a miss")


@pytest.mark.category("observability", weight=2)
def test_the_click_queue_depth_is_a_gauge(metrics: MetricsScraper) -> None:
    gauges = sorted(name for name, family in metrics().families.items()
                    if family.type == "gauge" and "queue" in name)
    assert gauges, "/metrics has no gauge for the click queue's depth (a gauge whose name contains 'queue')"
