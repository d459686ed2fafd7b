"""Production behaviour: an unreliable upstream (timeouts, retries, 503), shared state across restarts,
an event loop the upstream cannot stall."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable

import httpx
import pytest
from _shortener import (
    RATE_LIMIT,
    api_key,
    assert_json_error,
    check_calls,
    create_link,
    retry_after_seconds,
    unique_url,
)

from checks.upstream import FakeUpstream, UpstreamReply

pytestmark = pytest.mark.category("infrastructure")

SLOW_S = 5.0  # far beyond the app's SAFETY_TIMEOUT_S=1 from challenge.toml
HEALTH_WAIT_S = 20.0  # a bound on a hang, not a latency target: a free event loop answers at once


@pytest.mark.category("infrastructure", weight=2)
def test_a_safety_answer_slower_than_the_timeout_is_retried(client: httpx.Client, safety: FakeUpstream) -> None:
    safety.queue(UpstreamReply(200, {"safe": True}, delay_s=SLOW_S))
    response = client.post("/v1/links", json={"url": unique_url()}, headers={"X-API-Key": api_key()},
                           timeout=SLOW_S * 3)
    calls = len(check_calls(safety))
    assert response.status_code == 201, (
        f"the safety service's first answer took {SLOW_S:g} s and the next was immediate, but POST /v1/links "
        f"answered {response.status_code} after {calls} call(s): time out and retry")
    assert calls >= 2, f"the app waited out a {SLOW_S:g} s answer instead of timing out and retrying ({calls} call)"


@pytest.mark.category("infrastructure", weight=2)
def test_safety_5xx_answers_are_retried(client: httpx.Client, safety: FakeUpstream) -> None:
    safety.queue(UpstreamReply(500, {"error": "boom"}), UpstreamReply(502, {}))
    response = client.post("/v1/links", json={"url": unique_url()}, headers={"X-API-Key": api_key()})
    calls = len(check_calls(safety))
    assert response.status_code == 201, (
        f"the safety service answered 500, 502, then safe; POST /v1/links answered {response.status_code} "
        f"after {calls} call(s): retry 5xx answers with backoff")
    assert calls == 3, f"expected 3 calls (two failures, one verdict), saw {calls}"


@pytest.mark.category("infrastructure", weight=2)
def test_an_unavailable_safety_service_is_a_503_with_retry_after(client: httpx.Client, safety: FakeUpstream) -> None:
    safety.responder = lambda call: UpstreamReply(503, {"error": "down"})
    response = client.post("/v1/links", json={"url": unique_url()}, headers={"X-API-Key": api_key()},
                           timeout=30.0)
    calls = len(check_calls(safety))
    assert_json_error(response, 503)
    retry_after_seconds(response)
    assert 2 <= calls <= 5, f"expected a few retries before giving up, saw {calls} call(s) to the safety service"


@pytest.mark.category("infrastructure", weight=2)
def test_a_verdict_is_cached_so_one_url_is_checked_once(client: httpx.Client, safety: FakeUpstream) -> None:
    url = unique_url("popular")
    create_link(client, url)
    create_link(client, url)
    calls = [call.json() for call in check_calls(safety)]
    assert len(calls) == 1, f"two links for one URL made {len(calls)} safety calls ({calls!r}): cache verdicts in Redis"


@pytest.mark.category("infrastructure", weight=2)
def test_the_rate_limit_holds_across_a_restart(client: httpx.Client, safety: FakeUpstream,
                                            restart_app: Callable[[], None]) -> None:
    key = api_key()
    before = RATE_LIMIT // 2
    for _ in range(before):
        create_link(client, key=key)
    restart_app()
    for _ in range(RATE_LIMIT - before):
        create_link(client, key=key)
    response = client.post("/v1/links", json={"url": unique_url()}, headers={"X-API-Key": key})
    assert response.status_code == 429, (
        f"{RATE_LIMIT + 1} links within a minute with one key, across a restart, answered {response.status_code}: "
        f"the rate limit lives in the process, so two replicas (or a restart) reset it; keep it in Redis")


@pytest.mark.category("infrastructure", weight=2)
def test_health_answers_while_a_safety_check_hangs(client: httpx.Client, safety: FakeUpstream, base_url: str) -> None:
    hang = threading.Event()  # the safety service answers nothing until the test sets it
    safety.responder = lambda call: UpstreamReply(200, {"safe": True}, release=hang)

    def create_slowly() -> None:
        with httpx.Client(base_url=base_url, timeout=120.0) as other, contextlib.suppress(httpx.HTTPError):
            other.post("/v1/links", json={"url": unique_url()}, headers={"X-API-Key": api_key()})

    creator = threading.Thread(target=create_slowly, daemon=True)
    creator.start()
    try:
        deadline = time.monotonic() + 10
        while not check_calls(safety) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert check_calls(safety), "the app never called the safety service"
        try:
            health = client.get("/health", timeout=HEALTH_WAIT_S)
        except httpx.TimeoutException:
            pytest.fail(f"/health did not answer within {HEALTH_WAIT_S:g} s while a safety check hung: the upstream "
                        "call blocks the event loop (use an async client, or a sync handler run in a thread)",
                        pytrace=False)
        assert health.status_code == 200, f"/health answered {health.status_code}"
    finally:
        hang.set()
        creator.join(60)


def _refuses_connections(base_url: str) -> bool:
    """True once the app stopped listening (it got its stop signal), judged by a fresh connection."""
    try:
        with httpx.Client(base_url=base_url, timeout=2.0) as fresh:
            fresh.get("/health")
    except httpx.TransportError:
        return True
    return False


@pytest.mark.category("infrastructure", weight=2)
def test_a_request_in_flight_finishes_when_the_app_is_stopped(
        client: httpx.Client, safety: FakeUpstream, base_url: str, restart_app: Callable[[], None]) -> None:
    hang = threading.Event()  # every safety check waits until the app has been told to stop
    safety.responder = lambda call: UpstreamReply(200, {"safe": True}, release=hang)
    outcome: list[str] = []

    def create() -> None:
        with httpx.Client(base_url=base_url, timeout=60.0) as other:
            try:
                outcome.append(str(other.post("/v1/links", json={"url": unique_url()},
                                              headers={"X-API-Key": api_key()}).status_code))
            except httpx.TransportError as exc:
                outcome.append(type(exc).__name__)

    creator = threading.Thread(target=create, daemon=True)
    creator.start()
    restarter = threading.Thread(target=restart_app, daemon=True)
    try:
        deadline = time.monotonic() + 10
        while not check_calls(safety) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert check_calls(safety), "the app never called the safety service"
        restarter.start()  # SIGTERM now, SIGKILL after the grader's grace period
        deadline = time.monotonic() + 30
        while not _refuses_connections(base_url) and not outcome and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        hang.set()
        creator.join(60)
        if restarter.is_alive() or restarter.ident is not None:
            restarter.join(120)
    # Any HTTP answer (201, or 503 if the app's own retries ran out first) means the request was finished;
    # a transport error means the process died under it.
    assert len(outcome) == 1 and outcome[0].isdigit(), (
        f"a POST /v1/links in flight when the app got SIGTERM ended as {outcome or ['no answer']}: finish "
        "in-flight requests before exiting (exec the server from the start command so it receives the signal)")
