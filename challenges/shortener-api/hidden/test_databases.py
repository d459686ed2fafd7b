"""Data: clicks aggregated by a background worker (never written in the redirect), the redirect served from
the cache without a statement, data that outlives the process."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest
from _shortener import (
    create_link,
    stats,
    wait_for_total,
)

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
            answers.append(client.get(f"/{link['code']}", timeout=8.0).status_code)
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
        client: httpx.Client, safety: FakeUpstream, database: GraderDatabase) -> None:
    link = create_link(client)
    assert client.get(f"/{link['code']}").status_code == 302  # the first redirect may fill the cache
    wait_for_total(client, link["code"], 1)
    with database.writes_blocked():  # the worker's own writes wait: count only the request's statements
        try:
            response, statements = database.count_app_statements(
                lambda: client.get(f"/{link['code']}", timeout=8.0))
        except httpx.TimeoutException:
            pytest.fail("a redirect of a link already followed waited on a database write (the grader held "
                        "writes) instead of being served from the Redis cache", pytrace=False)
    assert response.status_code == 302
    assert statements == 0, (
        f"a redirect of a link already followed ran {statements} database statement(s): serve the hot path "
        "from the Redis cache")


def test_links_and_clicks_survive_a_restart(client: httpx.Client, safety: FakeUpstream,
                                            restart_app: Callable[[], None]) -> None:
    link = create_link(client)
    for _ in range(3):
        client.get(f"/{link['code']}")
    restart_app()
    assert client.get(f"/{link['code']}").status_code == 302
    wait_for_total(client, link["code"], 4)
