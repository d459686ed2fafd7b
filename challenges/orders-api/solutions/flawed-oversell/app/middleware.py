"""Request ids, one JSON log line per request, and a JSON 500 for anything unexpected."""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import error_response
from app.logging_setup import request_id_var

logger = logging.getLogger("app.request")

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_REQUEST_ID = re.compile(r"[\x20-\x7e]{1,128}")  # printable ASCII


def choose_request_id(sent: str | None) -> str:
    """The client's request id when it is 1-128 printable ASCII characters, else a new one."""
    if sent is not None and _VALID_REQUEST_ID.fullmatch(sent):
        return sent
    return uuid.uuid4().hex


class RequestContextMiddleware:
    """Pure ASGI middleware (no body buffering): tags the response with `X-Request-ID`, logs one line
    per request and turns an unhandled exception into a JSON 500 with its traceback in the log."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = choose_request_id(Headers(scope=scope).get(REQUEST_ID_HEADER))
        token = request_id_var.set(request_id)
        started_at = time.perf_counter()
        response_status: list[int] = []

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                response_status.append(message["status"])
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            logger.exception("unhandled error", extra={"path": scope["path"], "request_id": request_id})
            if response_status:
                raise  # too late for an error body: the response has started
            await error_response(500, "internal_error", "internal server error")(scope, receive, send_with_id)
        finally:
            _log_request(scope, request_id, response_status[0] if response_status else 500, started_at)
            request_id_var.reset(token)


def _log_request(scope: Scope, request_id: str, status: int, started_at: float) -> None:
    duration_ms = round((time.perf_counter() - started_at) * 1000, 2)
    level = logging.ERROR if status >= 500 else logging.INFO
    logger.log(level, "request", extra={"method": scope["method"], "path": scope["path"], "status": status,
                                        "duration_ms": duration_ms, "request_id": request_id})
