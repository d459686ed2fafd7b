"""Wait until the app answers its health path, from the host (the local backend, where the app is a process
on this machine).

The runner's own probe is `checks.wait_for_app` (the Docker backend runs it beside the app); both follow
the same rules, and `tests/unit/checks/test_wait_for_app.py` runs the same cases against both. A 2xx means
ready; a redirect to the same origin is followed (Django's APPEND_SLASH answers `/api/tags` with a 301 to
`/api/tags/`); redirects elsewhere are never followed.
"""

from __future__ import annotations

import time

import httpx


def wait_for_health(url: str, timeout_s: float, interval_s: float = 0.1) -> tuple[bool, str]:
    """Poll `url` until it answers 2xx or `timeout_s` passes; return (ready, last problem seen)."""
    deadline = time.monotonic() + timeout_s
    last = "no answer yet"
    while time.monotonic() < deadline:
        try:
            response = _get_same_origin(url)
            if response.is_success:
                return True, f"HTTP {response.status_code}"
            last = f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            last = type(exc).__name__
        time.sleep(interval_s)
        interval_s = min(interval_s * 1.5, 1.0)
    return False, last


def _get_same_origin(url: str, max_redirects: int = 5) -> httpx.Response:
    """GET `url`, following redirects only while they stay on its scheme, host and port."""
    origin = httpx.URL(url)
    response = httpx.get(url, timeout=2.0)
    for _ in range(max_redirects):
        if not response.is_redirect or "location" not in response.headers:
            break
        target = origin.join(response.headers["location"])
        if (target.scheme, target.host, target.port) != (origin.scheme, origin.host, origin.port):
            break
        response = httpx.get(target, timeout=2.0)
    return response
