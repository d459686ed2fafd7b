"""Wait until the app answers its health path: `python -m checks.wait_for_app URL [URL ...] TIMEOUT_S`.

With several URLs (one per replica, `[app] replicas`), each must answer, all within the one TIMEOUT_S.

Exit 0 when a 2xx arrives, 3 when the deadline passes. Runs in the runner container, which shares only
the app's loopback, so this is how the grader learns the app is up (the pytest plugin uses it too, after a
restart). A redirect to the same origin is followed (Django's APPEND_SLASH answers `/api/tags` with a 301
to `/api/tags/`): an app that serves its health path after a redirect is up; redirects elsewhere are never
followed. The host's own probe, for the local backend, is `grader.sandbox.health`: same rules, same tests.
"""

from __future__ import annotations

import sys
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


def main(argv: list[str]) -> int:
    urls, timeout = argv[:-1], float(argv[-1])
    deadline = time.monotonic() + timeout
    ready, detail = False, "no URL given"
    for url in urls:
        ready, detail = wait_for_health(url, max(0.0, deadline - time.monotonic()))
        if not ready:
            detail = f"{url}: {detail}" if len(urls) > 1 else detail
            break
    print(f"{'ready' if ready else 'not ready'}: {detail}", flush=True)
    return 0 if ready else 3


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
