"""Request ids and the access log: one JSON line per request."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from shop.jsonlog import request_id_bound

access_log = logging.getLogger("shop.access")

REQUEST_ID_HEADER = "X-Request-ID"
# 1 to 128 printable ASCII characters (space to tilde).
VALID_REQUEST_ID = re.compile(r"[\x20-\x7e]{1,128}")


def request_id_for(request: HttpRequest) -> str:
    """The caller's X-Request-ID when it is acceptable, else a fresh one."""
    incoming = request.headers.get(REQUEST_ID_HEADER, "")
    if VALID_REQUEST_ID.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


class RequestContextMiddleware:
    """Outermost middleware: binds the request id for logging, echoes it, and logs the request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request_id_for(request)
        started = time.perf_counter()
        with request_id_bound(request_id):
            response = self.get_response(request)
            response[REQUEST_ID_HEADER] = request_id
            access_log.info(
                "%s %s %s", request.method, request.path, response.status_code,
                extra={
                    "request_id": request_id,
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )
        return response
