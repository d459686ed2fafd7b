"""Request ids and the access log: one JSON line per request."""

from __future__ import annotations

import logging
import re
import time
import uuid

from flask import Flask, Response, g, request

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_REQUEST_ID = re.compile(r"^[\x20-\x7e]{1,128}$")  # 1-128 printable ASCII characters

access_logger = logging.getLogger("app.access")


def request_id_from(header: str | None) -> str:
    """The client's request id when it is acceptable, else a new one."""
    if header is not None and _VALID_REQUEST_ID.match(header):
        return header
    return uuid.uuid4().hex


def _start_request() -> None:
    g.request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))
    g.started = time.perf_counter()


def _finish_request(response: Response) -> Response:
    request_id = g.get("request_id") or request_id_from(None)
    response.headers[REQUEST_ID_HEADER] = request_id
    started = g.get("started")
    duration_ms = round((time.perf_counter() - started) * 1000, 2) if started is not None else 0.0
    access_logger.info("request", extra={
        "method": request.method,
        "path": request.path,
        "status": response.status_code,
        "duration_ms": duration_ms,
        "request_id": request_id,
    })
    return response


def install_request_hooks(app: Flask) -> None:
    """Give every request an id (echoed in `X-Request-ID`) and log it when its response is ready."""
    app.before_request(_start_request)
    app.after_request(_finish_request)
