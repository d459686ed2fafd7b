"""A minimal stdlib HTTP app shared by the adversarial cases (copied into each case at test time).

It answers `/health` and, when the case gives one, `/__adversarial__` with what the case observed, so a
hidden test in the test-only challenge can assert the sandbox boundary from the runner's side.
Every other path answers 404 JSON, so the challenge's hidden tests simply fail.
"""

import json
import os
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, HTTPServer, ThreadingHTTPServer

Probe = Callable[[], dict[str, object]]


def serve(probe: Probe | None = None, threaded: bool = True, on_request: Callable[[str], None] | None = None) -> None:
    """Serve forever on 127.0.0.1:$PORT."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if on_request is not None:
                on_request(self.path)
            if self.path == "/health":
                status, body = 200, {"status": "ok"}
            elif self.path == "/__adversarial__" and probe is not None:
                status, body = 200, probe()
            else:
                status, body = 404, {"error": "not found"}
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_POST = do_GET

        def log_message(self, *args: object) -> None:
            pass

    server_class = ThreadingHTTPServer if threaded else HTTPServer
    server_class(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
