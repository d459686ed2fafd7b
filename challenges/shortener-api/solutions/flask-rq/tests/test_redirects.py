"""Redirects from the cache, clicks through the queue, stats, health, ready, request ids, errors."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from flask.testing import FlaskClient
from redis import Redis

from linkshort.jobs import QUEUE_NAME

KEY = {"X-API-Key": "test-key"}


def _create(client: FlaskClient, url: str = "https://example.com/r") -> str:
    response = client.post("/v1/links", json={"url": url}, headers=KEY)
    assert response.status_code == 201
    code: str = response.get_json()["code"]
    return code


def test_each_redirect_is_counted_by_the_job(client: FlaskClient) -> None:
    code = _create(client)
    for _ in range(3):
        response = client.get(f"/{code}")
        assert response.status_code == 302
        assert response.headers["Location"] == "https://example.com/r"
    today = datetime.now(UTC).date().isoformat()
    assert client.get(f"/v1/links/{code}/stats").get_json() == {
        "code": code, "total_clicks": 3, "daily": [{"date": today, "clicks": 3}]}


@pytest.mark.parametrize("eager", [False])
def test_a_redirect_only_enqueues(client: FlaskClient, redis: Redis) -> None:
    code = _create(client)
    client.get(f"/{code}")
    assert redis.llen(f"rq:queue:{QUEUE_NAME}") == 1
    assert client.get(f"/v1/links/{code}/stats").get_json()["total_clicks"] == 0


def test_the_redirect_is_served_from_the_cache(client: FlaskClient, redis: Redis) -> None:
    code = _create(client)
    client.get(f"/{code}")
    redis.hset(f"link:{code}", "url", "https://example.com/cached")
    assert client.get(f"/{code}").headers["Location"] == "https://example.com/cached"


def test_unknown_codes_are_json_404s(client: FlaskClient) -> None:
    for path in ("/missing", "/v1/links/missing/stats", "/v1/links/bad!code", "/a/b/c"):
        response = client.get(path)
        assert response.status_code == 404
        assert response.get_json()["error"]["code"] == "not_found"


def test_health_ready_and_request_ids(client: FlaskClient) -> None:
    health = client.get("/health", headers={"X-Request-ID": "abc-123"})
    assert health.get_json() == {"status": "ok"}
    assert health.headers["X-Request-ID"] == "abc-123"
    ready = client.get("/ready", headers={"X-Request-ID": "bad id"})
    assert ready.get_json() == {"status": "ready", "checks": {"database": "ok", "redis": "ok"}}
    assert ready.headers["X-Request-ID"] != "bad id"


def test_wrong_method_is_a_json_405(client: FlaskClient) -> None:
    response = client.delete("/v1/links/abc/stats")
    assert response.status_code == 405
    assert response.get_json()["error"]["code"] == "method_not_allowed"


@pytest.mark.parametrize("eager", [False])
def test_the_worker_process_drains_the_queue(client: FlaskClient, redis: Redis) -> None:
    from rq import Queue, SimpleWorker

    code = _create(client)
    client.get(f"/{code}")
    client.get(f"/{code}")
    SimpleWorker([Queue(QUEUE_NAME, connection=redis)], connection=redis).work(burst=True)
    assert client.get(f"/v1/links/{code}/stats").get_json()["total_clicks"] == 2
