"""A fake upstream HTTP service that a challenge suite serves inside the pod and controls per test.

A challenge whose app calls an external service (a safety checker, a payment provider) names that service's
URL in its `[app] env`, pointing at a loopback port, e.g. `SAFETY_API_URL = "http://127.0.0.1:18080"`. The
runner shares the app's loopback (Docker pod; the local backend runs both on the host), so a hidden test can
serve that port itself with `FakeUpstream` (through the plugin's `fake_upstream` fixture) and decide every
answer: a status, a JSON body, a delay longer than the app's timeout, a dropped connection. It records each
call (method, path, headers, JSON body), so a test can count the calls the app made (retries, caching) and
read the headers it sent (a propagated `traceparent`).

Only the standard library: it runs in the grader's runner, which has no third-party server.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from checks.loopback import LoopbackServer

MAX_BODY_BYTES = 1_000_000
MAX_HOLD_S = 120.0


@dataclass(frozen=True)
class UpstreamCall:
    """One request the app sent to the fake upstream."""

    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes
    received_at: float  # time.monotonic() in the runner

    def json(self) -> Any:
        """The body parsed as JSON, or None when it is not JSON."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None


@dataclass(frozen=True)
class UpstreamReply:
    """What the fake upstream answers: `drop` closes the connection without an answer (after `delay_s`).

    With `release`, the answer waits until the test sets that event (at most `delay_s`, or
    MAX_HOLD_S when no delay is given): a hang the test ends itself, with no race against a clock.
    """

    status: int = 200
    body: Any = field(default_factory=dict)  # sent as JSON
    delay_s: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False
    release: threading.Event | None = None


Responder = Callable[[UpstreamCall], UpstreamReply]


def _default_responder(call: UpstreamCall) -> UpstreamReply:
    return UpstreamReply()


class FakeUpstream:
    """An HTTP server on 127.0.0.1:`port` answering as the test says, recording every call.

    Set `responder` (a function of the call) for the steady behaviour and `queue(...)` replies for the next
    calls, which take precedence in order. Use it as a context manager, or `start()` / `stop()`.
    """

    def __init__(self, port: int) -> None:
        self.port = port
        self.responder: Responder = _default_responder
        self._queued: list[UpstreamReply] = []
        self._calls: list[UpstreamCall] = []
        self._lock = threading.Lock()
        self._serving = LoopbackServer(port, _handler_for(self), "fake-upstream")

    @property
    def url(self) -> str:
        """The base URL the app reaches it at."""
        return f"http://127.0.0.1:{self.port}"

    def queue(self, *replies: UpstreamReply) -> None:
        """Answer the next calls with these replies, in order, before falling back to `responder`."""
        with self._lock:
            self._queued.extend(replies)

    def calls(self, path: str | None = None) -> list[UpstreamCall]:
        """The calls received so far (to `path` only, when given), oldest first."""
        with self._lock:
            return [call for call in self._calls if path is None or call.path == path]

    def reset(self) -> None:
        """Forget the calls and the queued replies; answer with the default (200, `{}`) again."""
        with self._lock:
            self._calls.clear()
            self._queued.clear()
        self.responder = _default_responder

    def start(self) -> FakeUpstream:
        """Listen on the port (reusing it at once after a previous server) and serve in a daemon thread."""
        self._serving.start()
        return self

    def stop(self) -> None:
        """Stop listening; replies still being delayed are abandoned (their threads are daemons)."""
        self._serving.stop()

    def __enter__(self) -> FakeUpstream:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _answer(self, call: UpstreamCall) -> UpstreamReply:
        with self._lock:
            self._calls.append(call)
            queued = self._queued.pop(0) if self._queued else None
        return queued if queued is not None else self.responder(call)


def _handler_for(upstream: FakeUpstream) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = min(int(self.headers.get("Content-Length") or 0), MAX_BODY_BYTES)
            body = self.rfile.read(length) if length else b""
            call = UpstreamCall(self.command, self.path.split("?", 1)[0],
                                {name.lower(): value for name, value in self.headers.items()}, body, time.monotonic())
            reply = upstream._answer(call)
            if reply.release is not None:
                reply.release.wait(reply.delay_s or MAX_HOLD_S)
            elif reply.delay_s > 0:
                time.sleep(reply.delay_s)
            if reply.drop:
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
                return
            payload = json.dumps(reply.body).encode()
            self.close_connection = True
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.send_header("Connection", "close")  # no keep-alive: a later test's server answers the next call
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)
            except OSError:  # the app gave up waiting (its timeout) and closed the connection
                pass

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the suite's output is the report, not an access log."""

    return Handler
