"""A source archive is built where the issue says: a container with no network, not root, capped.

The archive's setup.py looks around while it builds (the network interfaces it sees, its user, its memory
limit) and writes what it saw into the module it packages, so the wheel carries evidence from inside the
build. It is served by a package index on loopback, as in tests/adversarial/test_dependency_attacks.py
(which proves the same setup.py never runs on the host).
"""

from __future__ import annotations

import ast
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pytest

from grader.environments import sandbox_target
from grader.models import Limits
from grader.resolve import ResolveRequest, resolve
from grader.sandbox.builder import MIN_MEMORY_MB
from tests.index_server import local_index, write_sdist

pytestmark = [pytest.mark.docker, pytest.mark.slow]
PROBE = "grader-build-probe"
SETUP_PY = """
import os
from setuptools import setup


def memory_limit():
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(path) as limit:
                return limit.read().strip()
        except OSError:
            pass
    return None


with open("grader_build_probe.py", "w") as probe:
    probe.write(f"INTERFACES = {sorted(os.listdir('/sys/class/net'))!r}\\n"
                f"UID = {os.getuid()!r}\\nMEMORY = {memory_limit()!r}\\n")
setup(name="grader-build-probe", version="1.0", py_modules=["grader_build_probe"])
"""


@pytest.fixture
def probe_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """An extra index serving only the probing archive (everything else from the operator's index)."""
    files = tmp_path / "index"
    files.mkdir()
    write_sdist(files, PROBE, "1.0", {"setup.py": SETUP_PY})
    with local_index(files) as url:
        monkeypatch.setenv("UV_INDEX", url)
        monkeypatch.setattr("grader.resolve.index_urls", lambda: (url, "https://pypi.org/simple/"))
        yield


def seen_inside_the_build(url: str) -> dict[str, Any]:
    """The values the archive's setup.py wrote into its module, read from the built wheel."""
    wheel = Path(unquote(urlparse(url).path))
    with zipfile.ZipFile(wheel) as archive:
        source = archive.read("grader_build_probe.py").decode()
    pairs = (line.split(" = ", 1) for line in source.splitlines() if line.strip())
    return {name: ast.literal_eval(value) for name, value in pairs}


def test_a_source_archive_is_built_with_no_network_as_a_user_within_limits(
    probe_index: None, docker_client: Any
) -> None:
    from grader.sandbox.docker import DockerSandbox

    sandbox = DockerSandbox(client=docker_client)
    request = ResolveRequest((f"{PROBE}==1.0",), (), (), None, sandbox_target("3.11", "linux-container"), None)
    resolution = resolve(request, sandbox.builder(Limits()), lambda _: None)
    (package,) = resolution.packages
    assert (package.name, package.built) == (PROBE, True), resolution.findings
    seen = seen_inside_the_build(package.url)
    assert seen["INTERFACES"] == ["lo"], "the build container had a network"
    assert seen["UID"] != 0, "the build ran as root"
    if seen["MEMORY"] is not None:  # cgroup v2 or v1, as the engine's host has it
        assert int(seen["MEMORY"]) == max(Limits().memory_mb, MIN_MEMORY_MB) * 1024 * 1024
