"""A resolution failure seen on a real public project (docs/validity.md) that only a builder fixes: the
resolver with the Docker engine's builder. The failures the resolver handles without building are
tests/network/grader/test_resolve_validity.py.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from grader.resolve import ResolveRequest, resolve
from tests.network.grader.test_resolve_validity import CONTAINER, quiet, rules


@pytest.mark.docker
@pytest.mark.slow
def test_an_old_c_extension_builds_with_the_tools_of_its_day_and_a_newer_wheel(docker_client: object) -> None:
    """congdh/fastapi-realworld (2020): SQLAlchemy 1.3.19 has no wheel for Python 3.11. With the build tools of
    2020 its C extension compiles, but wheel 0.35 refuses the cp311 tag ("would build wheel with unsupported
    tag"); with the newest setuptools its setup.py fails. The tools of its day plus the newest `wheel` build it,
    and alembic, which needs it, installs too."""
    from grader.models import Limits
    from grader.sandbox.docker import DockerSandbox

    request = ResolveRequest(main=("sqlalchemy==1.3.19", "alembic"), test=(), tools=(), lock=None,
                             target=CONTAINER, as_of=datetime(2020, 9, 10, 23, 59, 59, tzinfo=UTC))
    resolution = resolve(request, DockerSandbox(client=docker_client).builder(Limits()), quiet)
    found = {p.name: p for p in resolution.packages}
    assert found["sqlalchemy"].version == "1.3.19" and found["sqlalchemy"].built
    assert "alembic" in found
    assert "deps.build-failed" not in rules(resolution), resolution.findings
