"""The readiness probe: an app is up when its health path answers 2xx, also after a same-origin redirect.

Two probes follow these rules: the runner's (`checks.wait_for_app`, Docker backend and the plugin's restarts)
and the host's (`grader.sandbox.health`, local backend); every case runs against both."""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Callable, Iterator
from http.server import ThreadingHTTPServer

import pytest

from checks import wait_for_app
from grader.sandbox import health
from tests.conftest import REPO_ROOT

Probe = Callable[[str, float], tuple[bool, str]]
FIXTURE = REPO_ROOT / "tests" / "fixtures" / "submissions" / "health-redirects" / "app.py"


@pytest.fixture(params=[wait_for_app.wait_for_health, health.wait_for_health], ids=["runner", "host"])
def wait_for_health(request: pytest.FixtureRequest) -> Probe:
    """The runner's probe, then the host's."""
    probe: Probe = request.param
    return probe


@pytest.fixture
def redirecting_app() -> Iterator[str]:
    """The health-redirects fixture served on loopback; yields its base URL."""
    spec = importlib.util.spec_from_file_location("health_redirects_app", FIXTURE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    server: ThreadingHTTPServer = module.serve(0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_health_path_that_redirects_to_its_slashed_form_is_ready(redirecting_app: str,
                                                                   wait_for_health: Probe) -> None:
    """sawirricardo/django-realworld: `/api/tags` answered 301 to `/api/tags/` for 120 s and the app, which
    was up, was recorded as never started."""
    ready, detail = wait_for_health(f"{redirecting_app}/health", 10)
    assert ready and detail == "HTTP 200"


def test_a_redirect_off_the_apps_origin_is_not_followed(redirecting_app: str, wait_for_health: Probe) -> None:
    ready, detail = wait_for_health(f"{redirecting_app}/elsewhere", 1)
    assert not ready and detail == "HTTP 301"
