"""An OTLP/HTTP trace receiver the runner serves inside the pod, so a suite can read the spans the app exports.

The grader gives the app `OTEL_EXPORTER_OTLP_ENDPOINT` (and `..._TRACES_ENDPOINT`) pointing at a loopback
port (`checks.formats.otlp_app_environment`) and tells the runner that port (`GRADER_OTLP_PORT`); the plugin
serves `OtlpReceiver` there for the whole suite. It accepts `POST /v1/traces` in both OTLP encodings,
protobuf (decoded with `opentelemetry-proto`) and JSON, gzip-compressed or not, and keeps every span as a
flat `ReceivedSpan` (ids in hex). `/v1/metrics` and `/v1/logs` are accepted and dropped, so an app that
exports them too logs no errors.

Spans arrive asynchronously (an SDK's batch processor exports every few hundred milliseconds), so readers
wait with `wait_for`, which sleeps on a condition until a predicate holds or a deadline passes.
"""

from __future__ import annotations

import base64
import gzip
import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

from checks.loopback import LoopbackServer

MAX_BODY_BYTES = 16_000_000
MAX_SPANS = 100_000  # bounded memory against an app that exports in a loop
TRACES_PATH = "/v1/traces"
DROPPED_PATHS = ("/v1/metrics", "/v1/logs")


class OtlpDecodeError(ValueError):
    """An export the receiver could not read (not OTLP, or an encoding it does not know)."""


@dataclass(frozen=True)
class ReceivedSpan:
    """One span as the app exported it; ids are lower-case hex, `parent_span_id` None for a root span."""

    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    kind: str  # INTERNAL, SERVER, CLIENT, PRODUCER, CONSUMER or UNSPECIFIED
    attributes: dict[str, Any]
    status_code: str  # UNSET, OK or ERROR
    status_message: str
    service_name: str | None  # the resource's `service.name`
    resource: dict[str, Any]
    scope: str  # the instrumentation scope's name (e.g. opentelemetry.instrumentation.fastapi)
    start_ns: int
    end_ns: int

    @property
    def duration_s(self) -> float:
        """How long the span lasted, by the app's clock."""
        return max(self.end_ns - self.start_ns, 0) / 1e9


def decode_export(body: bytes, content_type: str) -> list[ReceivedSpan]:
    """The spans of one ExportTraceServiceRequest, protobuf or (when `content_type` says JSON) OTLP/JSON."""
    from google.protobuf import json_format
    from google.protobuf.message import DecodeError
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    request = ExportTraceServiceRequest()
    try:
        if "json" in content_type.lower():
            json_format.ParseDict(_json_ids_as_base64(json.loads(body)), request, ignore_unknown_fields=True)
        else:
            request.ParseFromString(body)
    except (DecodeError, json_format.ParseError, ValueError, TypeError, AttributeError) as exc:
        raise OtlpDecodeError(f"{type(exc).__name__}: {exc}") from exc
    return list(_spans_of(request))


def _json_ids_as_base64(payload: Any) -> Any:
    """OTLP/JSON writes ids in hex where protobuf's JSON mapping expects base64: convert them in place."""
    if not isinstance(payload, dict):
        raise OtlpDecodeError("an OTLP/JSON export is a JSON object")
    for resource_spans in payload.get("resourceSpans") or []:
        for scope_spans in resource_spans.get("scopeSpans") or []:
            for span in scope_spans.get("spans") or []:
                _hex_fields_to_base64(span)
                for link in span.get("links") or []:
                    _hex_fields_to_base64(link)
    return payload


def _hex_fields_to_base64(record: dict[str, Any]) -> None:
    for key in ("traceId", "spanId", "parentSpanId"):
        if isinstance(record.get(key), str):
            record[key] = base64.b64encode(bytes.fromhex(record[key])).decode()


def _spans_of(request: Any) -> Iterable[ReceivedSpan]:
    from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

    for resource_spans in request.resource_spans:
        resource = attributes_of(resource_spans.resource.attributes)
        service = resource.get("service.name")
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                yield ReceivedSpan(
                    trace_id=span.trace_id.hex(),
                    span_id=span.span_id.hex(),
                    parent_span_id=span.parent_span_id.hex() or None,
                    name=span.name,
                    kind=Span.SpanKind.Name(span.kind).removeprefix("SPAN_KIND_"),
                    attributes=attributes_of(span.attributes),
                    status_code=Status.StatusCode.Name(span.status.code).removeprefix("STATUS_CODE_"),
                    status_message=span.status.message,
                    service_name=service if isinstance(service, str) else None,
                    resource=resource,
                    scope=scope_spans.scope.name,
                    start_ns=span.start_time_unix_nano,
                    end_ns=span.end_time_unix_nano,
                )


def attributes_of(key_values: Iterable[Any]) -> dict[str, Any]:
    """OTLP KeyValues as a plain dict (arrays as lists, key-value lists as dicts, bytes as hex)."""
    return {item.key: _any_value(item.value) for item in key_values}


def _any_value(value: Any) -> Any:
    which = value.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        return [_any_value(item) for item in value.array_value.values]
    if which == "kvlist_value":
        return attributes_of(value.kvlist_value.values)
    if which == "bytes_value":
        return bytes(value.bytes_value).hex()
    return getattr(value, which)


SpanPredicate = Callable[[list[ReceivedSpan]], bool]


class OtlpReceiver:
    """An OTLP/HTTP server on 127.0.0.1:`port` keeping every span received. Use `start()` / `stop()`."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._spans: list[ReceivedSpan] = []
        self._errors: list[str] = []
        self._changed = threading.Condition()
        self._serving = LoopbackServer(port, _handler_for(self), "otlp-receiver")

    @property
    def endpoint(self) -> str:
        """The base URL an exporter is given (it appends /v1/traces)."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> OtlpReceiver:
        """Listen on the port and serve in a daemon thread."""
        self._serving.start()
        return self

    def stop(self) -> None:
        """Stop listening."""
        self._serving.stop()

    def spans(self, since: int = 0) -> list[ReceivedSpan]:
        """The spans received so far, in arrival order, from the `since`-th on."""
        with self._changed:
            return self._spans[since:]

    def count(self) -> int:
        """How many spans were received so far (a mark for `spans(since=...)`)."""
        with self._changed:
            return len(self._spans)

    def errors(self) -> list[str]:
        """Why each export the receiver could not decode was refused."""
        with self._changed:
            return list(self._errors)

    def wait_for(self, predicate: SpanPredicate, timeout_s: float, since: int = 0) -> list[ReceivedSpan] | None:
        """The spans since `since` once `predicate` holds for them, or None when `timeout_s` passes first.
        Woken by each export, so it returns as soon as the spans are there."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while True:
                spans = self._spans[since:]
                if predicate(spans):
                    return spans
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._changed.wait(remaining)

    def _add(self, spans: list[ReceivedSpan]) -> None:
        with self._changed:
            self._spans.extend(spans[: max(MAX_SPANS - len(self._spans), 0)])
            self._changed.notify_all()

    def _refused(self, reason: str) -> None:
        with self._changed:
            self._errors.append(reason)


def _handler_for(receiver: OtlpReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            path = self.path.split("?", 1)[0]
            content_type = self.headers.get("Content-Type") or "application/x-protobuf"
            try:
                body = self._body()
            except (OSError, EOFError) as exc:  # a gzip body that is not gzip
                receiver._refused(f"unreadable body: {exc}")
                self._answer(400, content_type)
                return
            if path in DROPPED_PATHS:
                self._answer(200, content_type)
                return
            if path != TRACES_PATH:
                self._answer(404, content_type)
                return
            try:
                receiver._add(decode_export(body, content_type))
            except OtlpDecodeError as exc:
                receiver._refused(str(exc))
                self._answer(400, content_type)
                return
            self._answer(200, content_type)

        def _body(self) -> bytes:
            length = min(int(self.headers.get("Content-Length") or 0), MAX_BODY_BYTES)
            body = self.rfile.read(length) if length else b""
            if (self.headers.get("Content-Encoding") or "").lower() == "gzip":
                return gzip.decompress(body)
            return body

        def _answer(self, status: int, content_type: str) -> None:
            # An empty ExportTraceServiceResponse: no bytes in protobuf, `{}` in JSON.
            payload = b"{}" if "json" in content_type.lower() else b""
            self.send_response(status)
            self.send_header("Content-Type", "application/json" if payload else "application/x-protobuf")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the suite's output is the report, not an access log."""

    return Handler
