"""Redirects from the cache, clicks through the Dramatiq queue and the worker, stats, health, ready, request
ids, metrics, errors."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from redis import Redis

from shortener.models import DailyClicks, Link
from shortener.queue import queue_depth
from shortener.tasks import add_clicks
from tests.conftest import KEY


def _create(api: Client, url: str = "https://example.com/r") -> str:
    response = api.post("/v1/links", {"url": url}, content_type="application/json", **KEY)
    assert response.status_code == 201
    code: str = response.json()["code"]
    return code


def test_a_redirect_only_queues_the_click(api: Client) -> None:
    code = _create(api)
    response = api.get(f"/{code}")
    assert response.status_code == 302
    assert response["Location"] == "https://example.com/r"
    assert queue_depth() == 1
    assert api.get(f"/v1/links/{code}/stats").json()["total_clicks"] == 0


def test_a_cached_redirect_runs_no_query(api: Client) -> None:
    code = _create(api)
    api.get(f"/{code}")
    with CaptureQueriesContext(connection) as queries:
        assert api.get(f"/{code}").status_code == 302
    assert len(queries) == 0


def test_the_redirect_is_served_from_the_cache(api: Client, redis: Redis) -> None:
    code = _create(api)
    api.get(f"/{code}")
    Link.objects.filter(code=code).update(url="https://example.com/changed")
    assert api.get(f"/{code}")["Location"] == "https://example.com/r"


@pytest.mark.django_db(transaction=True)
def test_the_worker_aggregates_clicks_per_day(api: Client, run_worker: Callable[[], None]) -> None:
    code = _create(api)
    for _ in range(3):
        assert api.get(f"/{code}").status_code == 302
    run_worker()
    today = datetime.now(UTC).date().isoformat()
    assert api.get(f"/v1/links/{code}/stats").json() == {
        "code": code, "total_clicks": 3, "daily": [{"date": today, "clicks": 3}]}
    assert queue_depth() == 0


@pytest.mark.django_db(transaction=True)  # as in the worker: the deferred foreign key is checked at commit
def test_clicks_add_up_per_link_and_day() -> None:
    link = Link.objects.create(code="abc", url="https://example.com")
    add_clicks(link.pk, date(2026, 1, 1), 1)
    add_clicks(link.pk, date(2026, 1, 1), 2)
    add_clicks(link.pk, date(2026, 1, 2), 1)
    add_clicks(link.pk + 1000, date(2026, 1, 2), 1)  # a link that is gone: dropped, not an error
    counts = sorted(DailyClicks.objects.values_list("day", "clicks"))
    assert counts == [(date(2026, 1, 1), 3), (date(2026, 1, 2), 1)]


def test_unknown_codes_are_json_404s(api: Client) -> None:
    for path in ("/missing", "/v1/links/missing/stats", "/v1/links/bad!code", "/a/b/c", "/" + "x" * 40):
        response = api.get(path)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"


def test_health_ready_and_request_ids(api: Client) -> None:
    health = api.get("/health", HTTP_X_REQUEST_ID="abc-123")
    assert health.json() == {"status": "ok"}
    assert health["X-Request-ID"] == "abc-123"
    ready = api.get("/ready", HTTP_X_REQUEST_ID="bad id")
    assert ready.json() == {"status": "ready", "checks": {"database": "ok", "redis": "ok"}}
    assert ready["X-Request-ID"] != "bad id"


def test_wrong_method_is_a_json_405(api: Client) -> None:
    response = api.delete("/v1/links/abc/stats")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert response["Allow"] == "GET"


def test_metrics_count_requests_by_route_template(api: Client) -> None:
    code = _create(api)
    api.get(f"/{code}")
    text = api.get("/metrics").content.decode()
    assert 'http_requests_total{method="GET",route="/{code}",status="302"}' in text
    assert code not in text
    assert 'cache_misses_total{cache="link"}' in text
    assert "click_queue_depth 1.0" in text
