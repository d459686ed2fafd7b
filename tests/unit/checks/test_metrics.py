"""The `metrics` fixture's parsing and scraping (checks.metrics), against a tiny app serving real Prometheus
metrics with prometheus_client (tests/fixtures/observability/metrics_app.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from checks.metrics import MetricsError, parse_metrics, scrape
from tests.unit.checks.tiny_apps import run_suite, tiny_app


@pytest.fixture(scope="module")
def app_url() -> Iterator[str]:
    with tiny_app("observability/metrics_app.py") as url:
        yield url


def test_a_counter_is_read_by_sample_or_family_name_and_labels(app_url: str) -> None:
    with httpx.Client(base_url=app_url) as http:
        before = scrape(http)
        for name in ("a", "b", "c"):
            http.get(f"/hello/{name}")
        after = scrape(http)

    route = {"route": "/hello/{name}"}
    counted = after.total("tiny_requests_total", route) - before.total("tiny_requests_total", route)
    assert counted == 3
    assert after.value("tiny_requests", {**route, "method": "GET"}) == after.value("tiny_requests_total", route)
    assert after.value("tiny_requests_total", {"route": "/nowhere"}) is None
    assert after.total("tiny_requests_total", {"route": "/nowhere"}) == 0
    assert after.label_values("tiny_requests_total", "route") == {"/hello/{name}"}
    family = after.family("tiny_requests_total")
    assert family is not None and family.type == "counter" and family.documentation == "Requests served."


def test_a_histogram_and_a_gauge_keep_their_types_and_samples(app_url: str) -> None:
    with httpx.Client(base_url=app_url) as http:
        http.get("/hello/x")
        snapshot = scrape(http)

    assert snapshot.families["tiny_request_seconds"].type == "histogram"
    count = snapshot.value("tiny_request_seconds_count", {"route": "/hello/{name}"})
    assert count is not None and count >= 1
    assert snapshot.value("tiny_request_seconds_bucket", {"route": "/hello/{name}", "le": "+Inf"}) == count
    assert snapshot.value("tiny_queue_depth") == 3
    assert snapshot.families["tiny_queue_depth"].type == "gauge"


def test_text_that_is_not_prometheus_is_an_error_naming_the_format(app_url: str) -> None:
    with httpx.Client(base_url=app_url) as http, pytest.raises(MetricsError, match="not in Prometheus' text"):
        scrape(http, "/garbage-metrics")


def test_a_missing_metrics_path_is_an_error_with_its_status(app_url: str) -> None:
    with httpx.Client(base_url=app_url) as http, pytest.raises(MetricsError, match="answered 404"):
        scrape(http, "/no-metrics-here")


def test_parsing_needs_no_app() -> None:
    snapshot = parse_metrics('# TYPE jobs gauge\njobs{queue="clicks"} 7\njobs{queue="mail"} 2\n')
    assert snapshot.value("jobs") == 9 and snapshot.value("jobs", {"queue": "mail"}) == 2


SUITE = '''
import pytest

def test_the_fixture_reads_the_apps_counter(client, metrics):
    before = metrics().total("tiny_requests_total", {"route": "/hello/{name}"})
    client.get("/hello/one")
    client.get("/hello/two")
    assert metrics().total("tiny_requests_total", {"route": "/hello/{name}"}) - before == 2

def test_garbage_fails_the_test_with_a_reason(metrics):
    metrics.scrape("/garbage-metrics")
'''


def test_the_plugin_fixture_scrapes_the_app_and_fails_a_test_on_bad_metrics(app_url: str, tmp_path: Path) -> None:
    suite = tmp_path / "test_suite.py"
    suite.write_text(SUITE)
    result, tests = run_suite(suite, {"GRADER_APP_URL": app_url})
    assert "1 failed, 1 passed" in result.stdout, result.stdout + result.stderr
    assert tests["test_garbage_fails_the_test_with_a_reason"]["message"].startswith(
        "Failed: could not read the app's metrics: the metrics are not in Prometheus' text format")
