"""The runner's round-robin proxy (checks.replicas) against two real stdlib HTTP servers: it alternates between
them, forwards method, path, headers and body, relays status and headers, and answers 502 (no retry elsewhere)
for a replica that is down. The whole feature, graded: tests/network/grader/sandbox/test_replicas.py."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from checks import wait_for_app
from checks.replicas import RoundRobinProxy, parse_replica_urls


def _instance(name: str) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.dumps({"instance": name, "method": self.command, "path": self.path,
                               "key": self.headers.get("X-Api-Key"),
                               "body": self.rfile.read(length).decode()}).encode()
            self.send_response(201 if self.command == "POST" else 200)
            self.send_header("Content-Type", "application/json")
            self.send_header("X-Instance", name)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _url(server: ThreadingHTTPServer) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def two_instances() -> Iterator[list[str]]:
    servers = [_instance("one"), _instance("two")]
    yield [_url(server) for server in servers]
    for server in servers:
        server.shutdown()
        server.server_close()


def test_the_proxy_alternates_and_forwards_the_whole_request(two_instances: list[str]) -> None:
    proxy = RoundRobinProxy(0, two_instances).start()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{proxy.port}", timeout=10.0) as client:
            seen = [client.get("/whoami?x=1").json()["instance"] for _ in range(4)]
            posted = client.post("/links", json={"url": "u"}, headers={"X-Api-Key": "k"})
    finally:
        proxy.stop()
    assert seen == ["one", "two", "one", "two"]
    assert posted.status_code == 201 and posted.headers["X-Instance"] == "one"
    assert posted.json() == {"instance": "one", "method": "POST", "path": "/links", "key": "k",
                             "body": '{"url":"u"}'}


def test_a_chunked_request_body_is_forwarded_whole(two_instances: list[str]) -> None:
    proxy = RoundRobinProxy(0, two_instances).start()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{proxy.port}", timeout=10.0) as client:
            answer = client.post("/upload", content=iter([b"abc", b"", b"defgh"]))  # an iterator: sent chunked
            after = client.get("/next")  # the same connection still reads requests where they begin
    finally:
        proxy.stop()
    assert answer.json()["body"] == "abcdefgh"
    assert after.status_code == 200 and after.json()["path"] == "/next"


def test_a_replica_that_is_down_answers_502_not_another_replica(two_instances: list[str]) -> None:
    proxy = RoundRobinProxy(0, [two_instances[0], f"http://127.0.0.1:{_closed_port()}"]).start()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{proxy.port}", timeout=10.0) as client:
            statuses = [client.get("/").status_code for _ in range(2)]
    finally:
        proxy.stop()
    assert statuses == [200, 502]


def test_replica_urls_are_read_from_the_runner_variable() -> None:
    assert parse_replica_urls("http://127.0.0.1:1/, http://127.0.0.1:2,") == ["http://127.0.0.1:1",
                                                                                "http://127.0.0.1:2"]
    assert parse_replica_urls("") == []


def test_the_runner_wait_needs_every_replica(two_instances: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert wait_for_app.main([*two_instances, "5"]) == 0
    down = f"http://127.0.0.1:{_closed_port()}/health"
    assert wait_for_app.main([two_instances[0], down, "1"]) == 3
    assert down in capsys.readouterr().out
