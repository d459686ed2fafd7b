"""What the hidden suite shares: the fake safety service, unique test data and polling for the stats.

The app reaches the safety service at SAFETY_API_URL, which challenge.toml points at the grading's upstream
port (`{upstream_port}`); the `safety` fixture (conftest.py) serves that port for one test with the grader's
`FakeUpstream` (checks.upstream), answering "safe" unless the test says otherwise, and records every call the
app made. The app runs as two replicas: `client` alternates between them, `instance(url)` talks to one.
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from checks.pytest_plugin import AppStopper, StopRecord
from checks.upstream import FakeUpstream, UpstreamCall, UpstreamReply
from checks.wait_for_app import wait_for_health

CHECK_PATH = "/v1/check"
RATE_LIMIT = 10  # challenge.toml: RATE_LIMIT_PER_MINUTE = "10"
STATS_DEADLINE_S = 20.0  # "correct within a few seconds", with room for a loaded machine
WRITE_HANG_S = 5.0  # a bound on a request held by the grader's write lock, not a latency target
REPLICA_WAIT_S = 60.0  # challenge.toml's startup_timeout_s: every instance back after a stop


def safe_reply(call: UpstreamCall) -> UpstreamReply:
    """The safety service's normal answer: this URL is safe."""
    body = call.json()
    url = body.get("url") if isinstance(body, dict) else None
    return UpstreamReply(200, {"url": url, "safe": True})


def unsafe_reply(call: UpstreamCall) -> UpstreamReply:
    """The answer for a URL the service flags."""
    body = call.json()
    url = body.get("url") if isinstance(body, dict) else None
    return UpstreamReply(200, {"url": url, "safe": False})


def api_key() -> str:
    """A fresh API key: each test has its own rate-limit budget."""
    return f"key-{uuid.uuid4().hex}"


def unique_url(label: str = "page") -> str:
    """A URL no other test uses (verdicts are cached per URL)."""
    return f"https://example.com/{label}/{uuid.uuid4().hex}?q=1"


def create_link(client: httpx.Client, url: str | None = None, key: str | None = None) -> dict[str, Any]:
    """Create a link that must succeed (201) and return its body."""
    response = client.post("/v1/links", json={"url": url or unique_url()}, headers={"X-API-Key": key or api_key()})
    assert response.status_code == 201, f"POST /v1/links answered {response.status_code}: {response.text[:300]}"
    body = response.json()
    assert isinstance(body, dict) and isinstance(body.get("code"), str) and body["code"], \
        f"the created link has no code: {body!r}"
    link: dict[str, Any] = body
    return link


def check_calls(safety: FakeUpstream) -> list[UpstreamCall]:
    """The calls the app made to the safety service's check endpoint."""
    return safety.calls(CHECK_PATH)


def stats(client: httpx.Client, code: str) -> dict[str, Any]:
    """GET /v1/links/{code}/stats, which must answer 200 with a JSON object."""
    response = client.get(f"/v1/links/{code}/stats")
    assert response.status_code == 200, f"GET /v1/links/{code}/stats answered {response.status_code}"
    body: dict[str, Any] = response.json()
    return body


def wait_for_total(client: httpx.Client, code: str, expected: int, context: str = "") -> dict[str, Any]:
    """Poll the stats until total_clicks reaches `expected`; fail, naming the last total, at the deadline."""
    deadline = time.monotonic() + STATS_DEADLINE_S
    body = stats(client, code)
    while body.get("total_clicks") != expected and time.monotonic() < deadline:
        time.sleep(0.25)
        body = stats(client, code)
    assert body.get("total_clicks") == expected, (
        f"{expected} redirects were made{context} but the stats show total_clicks={body.get('total_clicks')!r} "
        f"after {STATS_DEADLINE_S:g} s: clicks are lost or never aggregated ({body!r})")
    return body


def instance(url: str, timeout_s: float = 30.0) -> httpx.Client:
    """A client bound to one app instance (a `replicas` URL), not the round-robin proxy `client` goes through:
    per-process state (metrics counters, an in-memory cache) is only comparable on one instance."""
    return httpx.Client(base_url=url, timeout=timeout_s)


def wait_for_every_replica(replicas: list[str], health_path: str = "/health") -> None:
    """After a stop: every instance answers again (the grader waits for the proxy's URL, which one answers)."""
    for url in replicas:
        ready, detail = wait_for_health(url + health_path, REPLICA_WAIT_S)
        assert ready, f"the instance at {url} did not answer {health_path} within {REPLICA_WAIT_S:g} s of a " \
                      f"restart (last: {detail})"


def assert_json_error(response: httpx.Response, status: int) -> dict[str, Any]:
    """The response has this status and a JSON object body."""
    assert response.status_code == status, f"expected {status}, got {response.status_code}: {response.text[:300]}"
    assert response.headers.get("content-type", "").startswith("application/json"), \
        f"the {status} is not JSON: {response.headers.get('content-type')!r}"
    body: dict[str, Any] = response.json()
    assert isinstance(body, dict), f"the error body is not a JSON object: {body!r}"
    return body


def retry_after_seconds(response: httpx.Response) -> int:
    """The Retry-After header as whole seconds (RFC 9110), which must be present and positive."""
    value = response.headers.get("Retry-After")
    assert value is not None, f"the {response.status_code} has no Retry-After header"
    assert value.isdigit() and int(value) > 0, f"Retry-After must be a positive number of seconds, got {value!r}"
    return int(value)


# --- one SIGTERM for two tests --------------------------------------------------------------------------
# A stop costs the suite a restart of every replica and the worker (10 s and more on a loaded machine), so
# the SIGTERM tests share one: clicks are made, requests are put in flight, then the app and its worker get
# SIGTERM once. test_databases reads whether the clicks survived, test_infrastructure how the requests ended.

CLICKS_BEFORE_STOP = 20
STOP_GRACE_S = 10.0  # SIGKILL only after this: an app that finishes its requests exits long before
RECEIVED_WAIT_S = 10.0  # for the requests in flight to reach the safety service (milliseconds when they do)


@dataclass(frozen=True)
class SigtermProbe:
    """What one SIGTERM, with clicks just queued and a request in flight on each instance, left behind."""

    code: str  # the link clicked CLICKS_BEFORE_STOP times just before the signal
    record: StopRecord  # how the app, its worker and the requests in flight ended
    problem: str | None  # why no request could be put in flight (the app was then stopped with none)


_sigterm_probes: list[SigtermProbe] = []


def _refuses_connections(url: str) -> bool:
    """True once the instance stopped listening (it got its stop signal), judged by a fresh connection; a
    slow answer is not a refusal (a busy instance still holds its requests)."""
    try:
        with httpx.Client(base_url=url, timeout=2.0) as fresh:
            fresh.get("/health")
    except httpx.ConnectError:
        return True
    except httpx.TransportError:
        return False
    return False


def _release_once_stopping(replicas: list[str], release: threading.Event, until_s: float = 60.0) -> None:
    """Set `release` when an instance stops accepting connections: its held requests can then finish."""
    deadline = time.monotonic() + until_s
    while not release.is_set() and time.monotonic() < deadline:
        if any(_refuses_connections(url) for url in replicas):
            break
        time.sleep(0.05)
    release.set()


def _stop_with_requests_in_flight(safety: FakeUpstream, stop_app: AppStopper, replicas: list[str]) -> StopRecord:
    """SIGTERM while a POST /v1/links waits on the safety service on each instance (sent to it directly, not
    through the proxy, so a request cut off shows as a transport error rather than the proxy's 502)."""
    release = threading.Event()  # every safety check waits until an instance has been told to stop
    safety.responder = lambda call: UpstreamReply(200, safe_reply(call).body, release=release)
    targets = itertools.cycle(replicas)
    lock = threading.Lock()

    def create(http: httpx.Client) -> httpx.Response:
        with lock:
            url = next(targets)
        return http.post(f"{url}/v1/links", json={"url": unique_url()}, headers={"X-API-Key": api_key()})

    earlier = len(check_calls(safety))  # the calls of this test before (its link's own safety check)
    watcher = threading.Thread(target=_release_once_stopping, args=(replicas, release), daemon=True)
    watcher.start()
    try:
        return stop_app.during(create, n=len(replicas),
                               received=lambda: len(check_calls(safety)) - earlier >= len(replicas),
                               signal="SIGTERM", grace_s=STOP_GRACE_S, wait_s=RECEIVED_WAIT_S)
    finally:
        release.set()
        watcher.join(10)
        safety.responder = safe_reply


def sigterm_probe(client: httpx.Client, safety: FakeUpstream, stop_app: AppStopper,
                  replicas: list[str]) -> SigtermProbe:
    """The suite's one SIGTERM (made by the first test that asks, then shared)."""
    if _sigterm_probes:
        return _sigterm_probes[0]
    code = create_link(client)["code"]
    for _ in range(CLICKS_BEFORE_STOP):  # right before the signal: some are likely still queued
        assert client.get(f"/{code}").status_code == 302
    problem = None
    try:
        record = _stop_with_requests_in_flight(safety, stop_app, replicas)
    except pytest.fail.Exception as exc:  # no request reached the safety service: stop with none in flight
        problem = str(exc)
        record = stop_app(signal="SIGTERM", grace_s=STOP_GRACE_S)
    wait_for_every_replica(replicas)
    _sigterm_probes.append(SigtermProbe(code, record, problem))
    return _sigterm_probes[0]
