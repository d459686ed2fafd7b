"""The external safety service: one POST per URL."""

from __future__ import annotations

from enum import Enum

import httpx


class Verdict(Enum):
    """What the safety service said about a URL."""

    SAFE = "safe"
    UNSAFE = "unsafe"


class SafetyUnavailable(Exception):
    """The service did not give a verdict."""


class SafetyClient:
    """Asks `POST {base_url}/v1/check {"url": ...}` -> `{"safe": bool}`."""

    def __init__(self, http: httpx.Client, base_url: str) -> None:
        self.http = http
        self.base_url = base_url

    async def verdict(self, url: str) -> Verdict:
        """The service's verdict; raises SafetyUnavailable when it does not answer 200 with one."""
        try:
            response = self.http.post(f"{self.base_url}/v1/check", json={"url": url})
            response.raise_for_status()
            safe = response.json()["safe"]
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            raise SafetyUnavailable(str(exc)) from exc
        if not isinstance(safe, bool):
            raise SafetyUnavailable("malformed answer")
        return Verdict.SAFE if safe else Verdict.UNSAFE
