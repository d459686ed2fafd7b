"""The fake upstream a challenge suite serves for the app (checks.upstream), driven by a real HTTP client."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from checks.upstream import FakeUpstream, UpstreamCall, UpstreamReply
from tests.conftest import REPO_ROOT, free_port


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream(free_port()) as server:
        yield server


def test_it_answers_the_default_then_queued_replies_then_the_responder(upstream: FakeUpstream) -> None:
    with httpx.Client(base_url=upstream.url) as http:
        assert http.post("/v1/check", json={"url": "a"}).json() == {}
        upstream.queue(UpstreamReply(503, {"error": "down"}), UpstreamReply(502))
        upstream.responder = lambda call: UpstreamReply(200, {"echo": call.json()})
        statuses = [http.post("/v1/check", json={"url": "b"}).status_code for _ in range(3)]
        assert statuses == [503, 502, 200]
        assert http.post("/v1/check", json={"url": "c"}).json() == {"echo": {"url": "c"}}


def test_it_records_each_call_with_its_headers_and_body(upstream: FakeUpstream) -> None:
    httpx.post(upstream.url + "/v1/check?x=1", json={"url": "u"}, headers={"traceparent": "00-abc-def-01"})
    httpx.get(upstream.url + "/other")
    calls = upstream.calls("/v1/check")
    assert len(calls) == 1 and len(upstream.calls()) == 2
    assert calls[0].method == "POST"
    assert calls[0].headers["traceparent"] == "00-abc-def-01"
    assert calls[0].json() == {"url": "u"}
    upstream.reset()
    assert upstream.calls() == []


def test_a_delay_longer_than_the_clients_timeout_is_a_timeout(upstream: FakeUpstream) -> None:
    upstream.queue(UpstreamReply(200, {"late": True}, delay_s=3.0))
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(upstream.url + "/v1/check", json={}, timeout=0.3)
    assert httpx.post(upstream.url + "/v1/check", json={}).status_code == 200


def test_a_dropped_call_closes_the_connection_without_an_answer(upstream: FakeUpstream) -> None:
    upstream.queue(UpstreamReply(drop=True))
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.post(upstream.url + "/v1/check", json={})


def test_a_pooled_connection_does_not_reach_a_stopped_server() -> None:
    """Each answer closes its connection: a client's pool never talks to the previous test's server."""
    port = free_port()
    with httpx.Client() as http:
        with FakeUpstream(port) as first:
            first.responder = lambda call: UpstreamReply(200, {"server": "first"})
            assert http.get(f"http://127.0.0.1:{port}/").json() == {"server": "first"}
        with FakeUpstream(port) as second:
            second.responder = lambda call: UpstreamReply(200, {"server": "second"})
            assert http.get(f"http://127.0.0.1:{port}/").json() == {"server": "second"}


def test_the_calls_json_is_none_for_a_body_that_is_not_json() -> None:
    call = UpstreamCall("POST", "/", {}, b"not json", 0.0)
    assert call.json() is None


SUITE = '''
import httpx
from checks.upstream import UpstreamReply

PORT = {port}

def test_served_for_the_test(fake_upstream):
    server = fake_upstream(PORT)
    server.responder = lambda call: UpstreamReply(201, {{"ok": True}})
    assert httpx.post(f"http://127.0.0.1:{{PORT}}/x", json={{}}).status_code == 201
    assert len(server.calls("/x")) == 1

def test_stopped_after_the_previous_test():
    try:
        httpx.get(f"http://127.0.0.1:{{PORT}}/x", timeout=2)
    except httpx.ConnectError:
        return
    raise AssertionError("the fake upstream still answers after its test")
'''


def test_the_plugin_fixture_serves_during_its_test_only(tmp_path: Path) -> None:
    suite = tmp_path / "test_suite.py"
    suite.write_text(SUITE.format(port=free_port()))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "checks.pytest_plugin", "-p", "no:cacheprovider", "-q", str(suite)],
        cwd=tmp_path, capture_output=True, text=True, env={"PYTHONPATH": str(REPO_ROOT), "PATH": "/usr/bin:/bin"},
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout


def test_a_held_reply_waits_for_its_release(upstream: FakeUpstream) -> None:
    release = threading.Event()
    upstream.queue(UpstreamReply(200, {"held": True}, release=release))
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(upstream.url + "/v1/check", json={}, timeout=0.3)
    release.set()
    assert httpx.post(upstream.url + "/v1/check", json={}).json() == {}
