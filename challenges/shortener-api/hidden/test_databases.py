"""Data: clicks aggregated by a background worker (never written in the redirect), the redirect served from
the cache without a statement, data and queued clicks that outlive a SIGTERM."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import httpx
import pytest
from _shortener import (
    CLICKS_BEFORE_STOP,
    WRITE_HANG_S,
    create_link,
    instance,
    sigterm_probe,
    stats,
    wait_for_total,
)

from checks.pytest_plugin import AppStopper
from checks.services_access import GraderDatabase
from checks.upstream import FakeUpstream

pytestmark = pytest.mark.category("databases")


@pytest.mark.category("databases", weight=3)
def test_stats_count_every_redirect_per_day_within_seconds(client: httpx.Client, safety: FakeUpstream) -> None:
    link = create_link(client)
    assert stats(client, link["code"]).get("total_clicks") == 0, "a new link should have total_clicks 0"
    for _ in range(5):
        assert client.get(f"/{link['code']}").status_code == 302
    body = wait_for_total(client, link["code"], 5)
    today = datetime.now(UTC).date().isoformat()
    daily = body.get("daily")
    assert isinstance(daily, list), f"stats need a daily list, got {body!r}"
    per_day = {entry.get("date"): entry.get("clicks") for entry in daily if isinstance(entry, dict)}
    assert per_day.get(today) == 5, f"expected 5 clicks on {today} (UTC) in daily, got {daily!r}"


@pytest.mark.category("databases", weight=3)
def test_a_redirect_answers_while_database_writes_are_blocked(
        client: httpx.Client, safety: FakeUpstream, database: GraderDatabase) -> None:
    link = create_link(client)
    assert client.get(f"/{link['code']}").status_code == 302  # warm whatever cache there is
    answers: list[int] = []

    def follow() -> None:
        try:
            answers.append(client.get(f"/{link['code']}", timeout=WRITE_HANG_S).status_code)
        except httpx.TimeoutException:
            answers.append(0)

    with database.writes_blocked() as tables:
        redirect = threading.Thread(target=follow)
        redirect.start()
        redirect.join(30)
    redirect.join(30)
    assert answers == [302], (
        f"GET /{{code}} did not answer while the grader blocked writes to the app's tables ({', '.join(tables)}): "
        "the redirect writes to the database in the request; queue the click for a background worker")
    wait_for_total(client, link["code"], 2)


@pytest.mark.category("databases", weight=3)
def test_a_cached_redirect_runs_no_database_statement(
        replicas: list[str], safety: FakeUpstream, database: GraderDatabase) -> None:
    with instance(replicas[0], timeout_s=WRITE_HANG_S) as http:  # one instance: its cache, whichever kind it is
        link = create_link(http)
        assert http.get(f"/{link['code']}").status_code == 302  # the first redirect may fill the cache
        wait_for_total(http, link["code"], 1)
        with database.writes_blocked():  # the worker's own writes wait: count only the request's statements
            try:
                response, statements = database.count_app_statements(lambda: http.get(f"/{link['code']}"))
            except httpx.TimeoutException:
                pytest.fail("a redirect of a link already followed waited on a database write (the grader held "
                            "writes) instead of being served from the Redis cache", pytrace=False)
    assert response.status_code == 302
    assert statements == 0, (
        f"a redirect of a link already followed ran {statements} database statement(s): serve the hot path "
        "from the Redis cache")


@pytest.mark.category("databases", weight=2)
def test_no_click_is_lost_when_the_app_and_worker_get_sigterm(
        client: httpx.Client, safety: FakeUpstream, replicas: list[str], stop_app: AppStopper) -> None:
    probe = sigterm_probe(client, safety, stop_app, replicas)  # clicks, then SIGTERM (shared with test_infrastructure)
    assert client.get(f"/{probe.code}").status_code == 302, "the link did not survive the restart"
    worker = probe.record.worker
    ended = "" if worker is None else (
        f" (the worker {'exited' if worker['exited'] else 'was killed after the grace'} with code "
        f"{worker['exit_code']} on SIGTERM)")
    wait_for_total(client, probe.code, CLICKS_BEFORE_STOP + 1,
                   f", {CLICKS_BEFORE_STOP} of them just before SIGTERM to the app and its worker{ended},")
