"""The unit group runs without the package index: uv and pip are told to stay offline for all of it.

A unit test that reaches for the index then fails at once with uv's or pip's own "offline" error, instead
of passing here and failing on a machine without network. Such a test belongs in tests/network/.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

OFFLINE = {"UV_OFFLINE": "1", "PIP_NO_INDEX": "1"}


@pytest.fixture(scope="package", autouse=True)
def no_package_index() -> Iterator[None]:
    """Package-scoped, so module fixtures of the group (which may grade) are offline too."""
    saved = {name: os.environ.get(name) for name in OFFLINE}
    os.environ.update(OFFLINE)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
