"""Production behaviour: an unreliable upstream (timeouts, retries, 503), state shared by the two replicas
(challenge.toml's `[app] replicas = 2`: verdict cache, rate limit, link cache), an event loop a slow upstream
cannot stall, and requests in flight finished on SIGTERM.

Weights: the stateless-process and event-loop probes carry most of the category, because each flaw they
catch takes a whole instance's correctness or availability down (see challenge.toml's scorecard)."""

from __future__ import annotations

import contextlib
import statistics
import threading
import time

import httpx
import pytest
from _shortener import (
    RATE_LIMIT,
    WRITE_HANG_S,
    api_key,
    assert_json_error,
    check_calls,
    create_link,
    instance,
    retry_after_seconds,
    safe_reply,
    sigterm_probe,
    unique_url,
    wait_for_total,
)

from checks.pytest_plugin import AppStopper
from checks.services_access import GraderDatabase
from checks.upstream import FakeUpstream, UpstreamCall, UpstreamReply

pytestmark = pytest.mark.category("infrastructure")

SLOW_S = 3.0  # far beyond the app's SAFETY_TIMEOUT_S=1 from challenge.toml
HOLD_S = 4.0  # how long a held safety call lasts at most (for an app that never times out): a bound, not a target
STALL_RATIO = 10.0  # a free event loop answers within a few baseline latencies; a blocked one waits out the call


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


# --- state shared by the replicas ----------------------------------------------------------------------


@pytest.mark.category("infrastructure", weight=4)
def test_a_verdict_is_cached_so_one_url_is_checked_once(replicas: list[str], safety: FakeUpstream) -> None:
    url = unique_url("popular")
    with instance(replicas[0]) as first, instance(replicas[-1]) as second:
        create_link(first, url)
        create_link(second, url)
    calls = [call.json() for call in check_calls(safety)]
    assert len(calls) == 1, (
        f"two links for one URL, one created on each of {len(replicas)} instances, made {len(calls)} safety calls "
        f"({calls!r}): cache verdicts in Redis, where every instance finds them")


@pytest.mark.category("infrastructure", weight=4)
def test_the_rate_limit_holds_across_replicas(replicas: list[str], safety: FakeUpstream) -> None:
    key = api_key()
    clients = [instance(url) for url in replicas]
    try:
        for number in range(RATE_LIMIT):
            create_link(clients[number % len(clients)], key=key)
        answers = [http.post("/v1/links", json={"url": unique_url()}, headers={"X-API-Key": key}).status_code
                   for http in clients]
    finally:
        for http in clients:
            http.close()
    assert answers == [429] * len(clients), (
        f"{RATE_LIMIT} links with one key spread over {len(clients)} instances, then one more on each, answered "
        f"{answers}: each instance counts only its own requests, so N instances allow N times the limit; keep the "
        "rate limit in Redis")


@pytest.mark.category("infrastructure", weight=4)
def test_a_link_followed_on_one_replica_is_served_from_the_cache_by_the_other(
        replicas: list[str], safety: FakeUpstream, database: GraderDatabase) -> None:
    with instance(replicas[0]) as first, instance(replicas[-1], timeout_s=WRITE_HANG_S) as second:
        code = create_link(first)["code"]
        assert first.get(f"/{code}").status_code == 302  # the first instance fills the cache
        wait_for_total(first, code, 1)
        with database.writes_blocked():  # the worker's own writes wait: count only the request's statements
            try:
                response, statements = database.count_app_statements(lambda: second.get(f"/{code}"))
            except httpx.TimeoutException:
                pytest.fail("a redirect on the second instance of a link the first had served waited on a "
                            "database write (the grader held writes) instead of being served from the cache",
                            pytrace=False)
    assert response.status_code == 302, f"GET /{code} on the second instance answered {response.status_code}"
    assert statements == 0, (
        f"a redirect on the second instance of a link the first instance had just served ran {statements} database "
        "statement(s): the link cache lives in each process's memory; keep it in Redis, shared by every instance")


# --- an event loop the upstream cannot stall ------------------------------------------------------------


def _timed_get(http: httpx.Client, path: str) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = http.get(path)
    return response, time.monotonic() - started


@pytest.mark.category("infrastructure", weight=6)
@pytest.mark.parametrize("probe", ["health", "redirect"])
def test_requests_are_served_while_a_safety_check_is_pending(replicas: list[str], safety: FakeUpstream,
                                                            probe: str) -> None:
    """Time a request while the same instance waits on the safety service, against the same request's
    baseline: judged by order (did it answer while the call was still pending?) and ratio, never an absolute."""
    release = threading.Event()  # the held safety call answers once the probe has answered (or after HOLD_S)
    posted = threading.Event()
    with instance(replicas[0], timeout_s=60.0) as http:
        code = create_link(http)["code"]
        path, expected, what = ("/health", 200, "the health check") if probe == "health" else \
            (f"/{code}", 302, "a redirect")
        http.get(path)  # warm: the connection open, the link cached
        baseline = statistics.median(_timed_get(http, path)[1] for _ in range(3))
        calls_before = len(check_calls(safety))

        def held(call: UpstreamCall) -> UpstreamReply:
            return UpstreamReply(200, safe_reply(call).body, release=release)

        def create() -> None:
            with instance(replicas[0], timeout_s=60.0) as other, contextlib.suppress(httpx.HTTPError):
                other.post("/v1/links", json={"url": unique_url("slow")}, headers={"X-API-Key": api_key()})
            posted.set()

        safety.responder = held
        creator = threading.Thread(target=create, daemon=True)
        creator.start()
        timer = threading.Timer(HOLD_S, release.set)
        try:
            deadline = time.monotonic() + 10
            while len(check_calls(safety)) == calls_before and not posted.is_set() and time.monotonic() < deadline:
                time.sleep(0.02)
            pending_calls = len(check_calls(safety))
            assert pending_calls > calls_before, "POST /v1/links of a new URL never called the safety service"
            timer.start()
            response, latency = _timed_get(http, path)
            pending = not release.is_set() and not posted.is_set() and len(check_calls(safety)) == pending_calls
        finally:
            release.set()
            timer.cancel()
            creator.join(60)
    assert response.status_code == expected, f"GET {path} answered {response.status_code}"
    ratio = latency / max(baseline, 1e-6)
    assert pending or ratio <= STALL_RATIO, (
        f"{what} stalled {latency:.1f} s while a safety call was pending ({ratio:.0f} times its "
        f"{baseline * 1000:.0f} ms baseline) and answered only once the call had ended: a blocking call in an async "
        "handler stalls the event loop, and every request on the instance waits (use an async client, or a sync "
        "handler run in a thread)")


# --- SIGTERM ----------------------------------------------------------------------------------------------


@pytest.mark.category("infrastructure", weight=2)
def test_a_request_in_flight_finishes_when_the_app_is_stopped(
        client: httpx.Client, safety: FakeUpstream, replicas: list[str], stop_app: AppStopper) -> None:
    probe = sigterm_probe(client, safety, stop_app, replicas)  # shared with test_databases' click test
    if probe.problem is not None:
        pytest.fail(f"no request could be put in flight before SIGTERM: {probe.problem}", pytrace=False)
    requests = probe.record.requests
    # Any HTTP answer (201, or 503 if the app's own retries ran out first) means the request was finished;
    # a transport error means the process died under it.
    assert len(requests) == len(replicas) and all(outcome.isdigit() for outcome in requests), (
        f"{len(replicas)} POST /v1/links in flight when the app got SIGTERM ended as {requests}: finish "
        "in-flight requests before exiting (exec the server from the start command so it receives the signal)")
