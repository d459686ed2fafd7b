"""The round-robin HTTP proxy the runner serves in front of the app's replicas (`[app] replicas` > 1).

The suite's `client` and `base_url` reach the app through it, so consecutive requests land on different
instances, as behind a load balancer; the `replicas` fixture reaches each instance directly. Stdlib only: it
runs in the sandbox's runner. Each request is forwarded whole (method, path, headers, body) to the next replica
in turn and its answer is relayed whole; a replica that does not answer gives 502, never a retry on another
one (a retry would hide a dead instance from the suite).
"""

from __future__ import annotations

import http.client
import itertools
import threading
import urllib.parse
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BufferedIOBase

FORWARD_TIMEOUT_S = 60.0  # a slow replica is the suite's to judge (its own client timeout), not the proxy's
# Headers that describe one connection, not the message: never forwarded (RFC 9110, 7.6.1).
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding",
                        "upgrade", "proxy-authenticate", "proxy-authorization"})

SET_BY_PROXY = frozenset({"content-length", "server", "date"})  # written by the proxy itself, once


def parse_replica_urls(value: str) -> list[str]:
    """The replicas' base URLs from the runner's variable (comma-separated), without trailing slashes."""
    return [url.strip().rstrip("/") for url in value.split(",") if url.strip()]


class RoundRobinProxy:
    """Serve on 127.0.0.1:`port`, forwarding each request to the next of `replica_urls` in turn."""

    def __init__(self, port: int, replica_urls: Sequence[str]) -> None:
        if not replica_urls:
            raise ValueError("a round-robin proxy needs at least one replica URL")
        self.replica_urls = list(replica_urls)
        self._next = _RoundRobin(self.replica_urls)
        self.server = ThreadingHTTPServer(("127.0.0.1", port), _handler_for(self._next))
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, name="replica-proxy", daemon=True)

    @property
    def port(self) -> int:
        """The port it serves on (useful when started on port 0)."""
        return int(self.server.server_address[1])

    def start(self) -> RoundRobinProxy:
        """Serve in a background thread; returns itself."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self.server.shutdown()
        self.server.server_close()


class _RoundRobin:
    """The next replica URL, in turn, safe across the server's threads."""

    def __init__(self, urls: Sequence[str]) -> None:
        self._cycle: Iterator[str] = itertools.cycle(urls)
        self._lock = threading.Lock()

    def __call__(self) -> str:
        with self._lock:
            return next(self._cycle)


def _read_chunked(stream: BufferedIOBase) -> bytes:
    """A chunked request body (RFC 9112, 7.1), trailers skipped."""
    body = bytearray()
    while True:
        size = int(stream.readline().split(b";", 1)[0].strip() or b"0", 16)
        if size == 0:
            while stream.readline().strip():  # trailers, up to the blank line
                pass
            return bytes(body)
        body += stream.read(size)
        stream.readline()  # the CRLF after each chunk


def _handler_for(next_replica: _RoundRobin) -> type[BaseHTTPRequestHandler]:
    class ProxyHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _forward(self) -> None:
            body = self._read_body()
            target = urllib.parse.urlsplit(next_replica())
            headers = {name: value for name, value in self.headers.items() if name.lower() not in HOP_BY_HOP}
            connection = http.client.HTTPConnection(target.hostname or "127.0.0.1", target.port or 80,
                                                    timeout=FORWARD_TIMEOUT_S)
            try:
                connection.request(self.command, self.path, body=body, headers=headers)
                response = connection.getresponse()
                payload = response.read()
                status, reason, answer_headers = response.status, response.reason, response.getheaders()
            except (OSError, http.client.HTTPException) as exc:
                self._bad_gateway(f"replica {target.netloc} did not answer: {type(exc).__name__}")
                return
            finally:
                connection.close()
            self.send_response(status, reason)
            for name, value in answer_headers:
                if name.lower() not in HOP_BY_HOP | SET_BY_PROXY:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        def _read_body(self) -> bytes | None:
            """The request's body, whole: by its Content-Length, or de-chunked (forwarded with a length)."""
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                return _read_chunked(self.rfile)
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length > 0 else None

        def _bad_gateway(self, message: str) -> None:
            data = message.encode()
            self.send_response(502)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _forward

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the suite's output is the runner log, not an access log."""

    return ProxyHandler
