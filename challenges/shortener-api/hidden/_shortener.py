"""What the hidden suite shares: the fake safety service, unique test data and polling for the stats.

The app reaches the safety service at SAFETY_API_URL, which challenge.toml points at the grading's upstream
port (`{upstream_port}`); the `safety` fixture (conftest.py) serves that port for one test with the grader's
`FakeUpstream` (checks.upstream), answering "safe" unless the test says otherwise, and records every call the
app made. The app runs as two replicas: `client` alternates between them, `instance(url)` talks to one.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx

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
