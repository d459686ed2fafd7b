"""A tiny stdlib-only web app used as a candidate's snapshot by the local sandbox tests.

It listens on 127.0.0.1:$PORT, answers GET /health and GET /hello with JSON, and, when $PROBE_FILE is
set, writes what it saw at startup (its process ids, environment, rlimits) there as JSON.
"""

from __future__ import annotations

import json
import os
import resource
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

RLIMITS = ("RLIMIT_AS", "RLIMIT_FSIZE", "RLIMIT_NPROC", "RLIMIT_CPU", "RLIMIT_CORE")


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/health":
            self._send(200, {"status": "ok"})
        elif self.path == "/hello":
            self._send(200, {"message": "hello"})
        else:
            self._send(404, {"detail": "not found"})

    def _send(self, status: int, body: dict[str, str]) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def write_probe(path: str) -> None:
    data_dir = Path(os.environ["DATA_DIR"])
    (data_dir / "note.txt").write_text("the app wrote here")
    probe = {
        "pid": os.getpid(),
        "pgid": os.getpgid(0),
        "cwd": os.getcwd(),
        "env": dict(os.environ),
        "rlimits": {name: list(resource.getrlimit(getattr(resource, name))) for name in RLIMITS},
    }
    Path(path).write_text(json.dumps(probe))


def main() -> None:
    if os.environ.get("PROBE_FILE"):
        write_probe(os.environ["PROBE_FILE"])
    server = ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler)
    print(f"listening on {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
