"""A standard-library HTTP server on 127.0.0.1, served from a daemon thread.

The grader's stand-ins inside the sandbox (the fake upstream, the OTLP receiver) are each one: the runner
serves them on the loopback it shares with the app. Only the standard library: the runner has no
third-party server.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STOP_TIMEOUT_S = 5.0
POLL_INTERVAL_S = 0.05  # how soon `stop()` is noticed


class _Server(ThreadingHTTPServer):
    allow_reuse_address = True  # a port a previous test's server just left is usable at once
    daemon_threads = True  # a reply still being held never keeps the runner alive
    block_on_close = False


class LoopbackServer:
    """Serves `handler` on 127.0.0.1:`port` in a thread named `name` between `start()` and `stop()`."""

    def __init__(self, port: int, handler: type[BaseHTTPRequestHandler], name: str) -> None:
        self.port = port
        self._handler = handler
        self._name = name
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Listen on the port and serve in a daemon thread."""
        server = _Server(("127.0.0.1", self.port), self._handler)
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": POLL_INTERVAL_S},
                                        name=f"{self._name}-{self.port}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop listening (idempotent); requests still being answered are abandoned (daemon threads)."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(STOP_TIMEOUT_S)
        self._server = None
