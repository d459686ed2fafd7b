"""Request ids, one JSON log line, a server span and the request metrics per request, and a JSON 500 for
anything unexpected (pure ASGI)."""

from __future__ import annotations

import logging
import re
import time
import uuid

from opentelemetry import propagate
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shortener.errors import error_response
from shortener.logging_setup import request_id_var
from shortener.telemetry import LATENCY, REQUESTS, tracer

logger = logging.getLogger("shortener.request")

REQUEST_ID_HEADER = "X-Request-ID"
UNMATCHED_ROUTE = "unmatched"  # one label for every unknown path: raw paths would explode the metrics
_USABLE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


def choose_request_id(sent: str | None) -> str:
    """The caller's id when it is 1-128 safe characters, else a fresh one."""
    if sent is not None and _USABLE_REQUEST_ID.fullmatch(sent):
        return sent
    return uuid.uuid4().hex


def route_template(scope: Scope) -> str:
    """The template of the route that answered (`/{code}`), known once the router has run."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED_ROUTE


class RequestContextMiddleware:
    """Tags every response with X-Request-ID, logs one line, traces and counts each request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        with tracer.start_as_current_span(scope["method"], kind=SpanKind.SERVER,
                                          context=propagate.extract(headers)) as span:
            statuses: list[int] = []
            try:
                await self._handle(scope, receive, send, headers, statuses)
            finally:
                self._describe(span, scope, statuses[0] if statuses else 500)

    @staticmethod
    def _describe(span: Span, scope: Scope, status: int) -> None:
        """Name the server span after the route template, with the request's attributes."""
        route = route_template(scope)
        span.update_name(f"{scope['method']} {route}")
        span.set_attribute("http.request.method", scope["method"])
        span.set_attribute("http.route", route)
        span.set_attribute("url.path", scope["path"])
        span.set_attribute("http.response.status_code", status)
        if status >= 500:
            span.set_status(Status(StatusCode.ERROR))

    async def _handle(self, scope: Scope, receive: Receive, send: Send, headers: Headers,
                      statuses: list[int]) -> None:
        request_id = choose_request_id(headers.get(REQUEST_ID_HEADER))
        token = request_id_var.set(request_id)
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                statuses.append(message["status"])
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            logger.exception("unhandled error", extra={"path": scope["path"]})
            if statuses:
                raise
            await error_response(500, "internal_error", "internal server error")(scope, receive, send_with_id)
        finally:
            status = statuses[0] if statuses else 500
            elapsed_s = time.perf_counter() - started
            route = route_template(scope)
            REQUESTS.labels(method=scope["method"], route=route, status=str(status)).inc()
            LATENCY.labels(method=scope["method"], route=route).observe(elapsed_s)
            logger.log(logging.ERROR if status >= 500 else logging.INFO, "request", extra={
                "method": scope["method"], "path": scope["path"], "status": status,
                "duration_ms": round(elapsed_s * 1000, 2),
            })
            request_id_var.reset(token)
