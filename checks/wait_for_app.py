"""Wait until the app answers its health path: `python -m checks.wait_for_app URL TIMEOUT_S`.

Exit 0 when a 2xx arrives, 3 when the deadline passes. Runs in the runner container, which shares only
the app's loopback, so this is how the grader learns the app is up.
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
            response = httpx.get(url, timeout=2.0)
            if response.is_success:
                return True, f"HTTP {response.status_code}"
            last = f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            last = type(exc).__name__
        time.sleep(interval_s)
        interval_s = min(interval_s * 1.5, 1.0)
    return False, last


def main(argv: list[str]) -> int:
    url, timeout = argv[0], float(argv[1])
    ready, detail = wait_for_health(url, timeout)
    print(f"{'ready' if ready else 'not ready'}: {detail}", flush=True)
    return 0 if ready else 3


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
