"""Request ids, one JSON log line per request, and a JSON 500 for anything unexpected (pure ASGI)."""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shortener.errors import error_response
from shortener.logging_setup import request_id_var

logger = logging.getLogger("shortener.request")

REQUEST_ID_HEADER = "X-Request-ID"
_USABLE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


def choose_request_id(sent: str | None) -> str:
    """The caller's id when it is 1-128 safe characters, else a fresh one."""
    if sent is not None and _USABLE_REQUEST_ID.fullmatch(sent):
        return sent
    return uuid.uuid4().hex


class RequestContextMiddleware:
    """Tags every response with X-Request-ID and logs one line per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = choose_request_id(Headers(scope=scope).get(REQUEST_ID_HEADER))
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        statuses: list[int] = []

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
            logger.log(logging.ERROR if status >= 500 else logging.INFO, "request", extra={
                "method": scope["method"], "path": scope["path"], "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
            })
            request_id_var.reset(token)
