"""The OTLP/HTTP receiver behind the `traces` fixture (checks.otlp): real exports from the OpenTelemetry SDK
(tests/fixtures/observability/traced_app.py), OTLP/JSON and gzip by hand, and the fixture in a suite."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from checks.formats import otlp_app_environment
from checks.otlp import OtlpReceiver, ReceivedSpan
from tests.conftest import free_port
from tests.unit.checks.tiny_apps import run_suite, tiny_app

TRACED_APP = "observability-challenge/submission/traced_app.py"
WAIT_S = 60.0  # a deadline for a hang only: waits return as soon as the spans arrive

TRACE_ID = "5b8efff798038103d269b633813fc60c"
PARENT_ID = "eee19b7ec3c1b174"


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    receiver = OtlpReceiver(free_port()).start()
    yield receiver
    receiver.stop()


def both_spans(spans: list[ReceivedSpan]) -> bool:
    return {"GET /work", "call safety"} <= {span.name for span in spans}


def test_spans_exported_by_the_sdk_arrive_with_ids_parents_kinds_attributes_and_status(
    receiver: OtlpReceiver,
) -> None:
    with tiny_app(TRACED_APP, otlp_app_environment(receiver.port)) as url:
        response = httpx.get(url + "/work", headers={"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"})
        assert response.status_code == 200
        spans = receiver.wait_for(both_spans, WAIT_S)

    assert spans is not None, receiver.errors()
    server = next(span for span in spans if span.name == "GET /work")
    call = next(span for span in spans if span.name == "call safety")
    assert (server.trace_id, server.parent_span_id, server.kind) == (TRACE_ID, PARENT_ID, "SERVER")
    assert (call.trace_id, call.parent_span_id, call.kind) == (TRACE_ID, server.span_id, "CLIENT")
    assert len(server.span_id) == 16 and server.span_id != PARENT_ID
    assert server.attributes == {"http.route": "/work", "http.status_code": 200}
    assert call.attributes == {"peer.service": "safety"}
    assert (call.status_code, call.status_message) == ("ERROR", "safety timed out")
    assert server.status_code == "UNSET"
    assert server.service_name == call.service_name == "tiny-traced"
    assert server.scope == "tiny.traced" and server.end_ns >= server.start_ns > 0
    assert receiver.errors() == []


def otlp_json_export() -> dict[str, object]:
    """One span in OTLP/JSON as the specification writes it: hex ids, integer enums, intValue as a string."""
    return {"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "json-app"}}]},
        "scopeSpans": [{"scope": {"name": "hand.made"}, "spans": [{
            "traceId": TRACE_ID, "spanId": "1111111111111111", "parentSpanId": PARENT_ID,
            "name": "SELECT links", "kind": 3, "startTimeUnixNano": "1000", "endTimeUnixNano": "2500",
            "attributes": [
                {"key": "db.system", "value": {"stringValue": "postgresql"}},
                {"key": "db.rows", "value": {"intValue": "2"}},
                {"key": "tags", "value": {"arrayValue": {"values": [{"stringValue": "a"}, {"boolValue": True}]}}},
            ],
            "status": {"code": 1},
        }]}],
    }]}


def test_an_otlp_json_export_is_decoded_like_protobuf(receiver: OtlpReceiver) -> None:
    response = httpx.post(receiver.endpoint + "/v1/traces", json=otlp_json_export())

    assert response.status_code == 200 and response.json() == {}
    [span] = receiver.spans()
    assert (span.trace_id, span.span_id, span.parent_span_id) == (TRACE_ID, "1111111111111111", PARENT_ID)
    assert (span.name, span.kind, span.status_code, span.service_name) == ("SELECT links", "CLIENT", "OK", "json-app")
    assert span.attributes == {"db.system": "postgresql", "db.rows": 2, "tags": ["a", True]}
    assert span.duration_s == pytest.approx(1.5e-6)


def test_a_gzip_compressed_export_is_decoded(receiver: OtlpReceiver) -> None:
    body = gzip.compress(json.dumps(otlp_json_export()).encode())
    response = httpx.post(receiver.endpoint + "/v1/traces", content=body,
                          headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})
    assert response.status_code == 200
    assert [span.name for span in receiver.spans()] == ["SELECT links"]


def test_an_undecodable_export_is_refused_and_remembered(receiver: OtlpReceiver) -> None:
    response = httpx.post(receiver.endpoint + "/v1/traces", content=b"\xff\x00 not protobuf",
                          headers={"Content-Type": "application/x-protobuf"})
    assert response.status_code == 400
    assert receiver.spans() == [] and len(receiver.errors()) == 1


def test_metrics_and_logs_exports_are_accepted_and_dropped(receiver: OtlpReceiver) -> None:
    for path in ("/v1/metrics", "/v1/logs"):
        assert httpx.post(receiver.endpoint + path, content=b"anything").status_code == 200
    assert httpx.post(receiver.endpoint + "/v1/other", content=b"").status_code == 404
    assert receiver.spans() == [] and receiver.errors() == []


def test_a_wait_whose_spans_never_come_ends_at_its_deadline_with_none(receiver: OtlpReceiver) -> None:
    assert receiver.wait_for(lambda spans: len(spans) > 0, timeout_s=0.2) is None


SUITE = '''
import httpx

def test_the_fixture_reads_the_apps_trace(client, traces):
    traceparent, trace_id, parent_id = traces.new_traceparent()
    assert client.get("/work", headers={"traceparent": traceparent}).status_code == 200
    server = traces.wait_for_span(name="GET /work", trace_id=trace_id, timeout_s=60)
    assert server.parent_span_id == parent_id and server.kind == "SERVER"
    call = traces.wait_for(lambda spans: any(s.parent_span_id == server.span_id for s in spans),
                           "the upstream call's span", timeout_s=60)
    assert [span.name for span in traces.children(server)] == ["call safety"]
    assert all(span.service_name == "tiny-traced" for span in traces.trace(trace_id))

def test_spans_of_earlier_tests_are_not_this_tests(traces):
    assert traces.spans() == []  # the app exports only for /work, and the previous test waited for its spans

def test_a_span_that_never_comes_fails_the_test_naming_what_arrived(client, traces):
    traceparent, trace_id, _ = traces.new_traceparent()
    client.get("/work", headers={"traceparent": traceparent})
    traces.wait_for(lambda spans: len([s for s in spans if s.trace_id == trace_id]) >= 2, timeout_s=60)
    traces.wait_for_span(name="INSERT clicks", timeout_s=0.5)
'''


def test_the_plugin_serves_the_receiver_for_the_suite_and_the_fixture_reads_it(tmp_path: Path) -> None:
    port = free_port()
    suite = tmp_path / "test_suite.py"
    suite.write_text(SUITE)
    with tiny_app(TRACED_APP, otlp_app_environment(port)) as url:
        result, tests = run_suite(suite, {"GRADER_APP_URL": url, "GRADER_OTLP_PORT": str(port)})
    assert "1 failed, 2 passed" in result.stdout, result.stdout + result.stderr
    assert tests["test_a_span_that_never_comes_fails_the_test_naming_what_arrived"]["message"].startswith(
        "Failed: the app did not export a span with name 'INSERT clicks' within 0.5 s; received: 2 span(s): ")


def test_outside_the_grader_the_fixture_skips(tmp_path: Path) -> None:
    suite = tmp_path / "test_suite.py"
    suite.write_text("def test_traces(traces):\n    pass\n")
    result, _ = run_suite(suite, {})
    assert "1 skipped" in result.stdout, result.stdout + result.stderr
