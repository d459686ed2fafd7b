"""The hidden suite's one fixture of its own: the fake safety service the app calls (see _shortener.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from _shortener import safe_reply

from checks.upstream import FakeUpstream


@pytest.fixture
def safety(fake_upstream: Callable[..., FakeUpstream]) -> Iterator[FakeUpstream]:
    """The fake safety service for this test, answering "safe" until the test changes `responder`."""
    upstream = fake_upstream()
    upstream.responder = safe_reply
    yield upstream
