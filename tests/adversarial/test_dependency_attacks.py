"""Dependency attacks: a package with only a source archive whose setup.py would run code, and requirement
lines that would point the installer elsewhere. The hostile archive is served by a package index on
loopback (an extra index for uv, so nothing else changes); its setup.py writes a canary file on the host
if it ever runs there.

Nothing from a submission's dependencies is built or executed on the host: without Docker the archive is
reported and left out; with Docker it is built in a throwaway container with no network, where the host's
path does not exist, so the canary never appears on the host while the package still installs.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from grader.deps import read_dependencies
from grader.environments import sandbox_target
from grader.models import Limits
from grader.resolve import ResolveRequest, resolve
from tests.conftest import REPO_ROOT

from ..index_server import local_index, write_sdist
from .corpus import CASES_DIR

EVIL = "grader-adversarial-evil"
SETUP_PY = """
from setuptools import setup

try:
    with open({canary!r}, "w") as canary:
        canary.write("setup.py ran on the host")
except OSError:
    pass  # in the build container the host's path does not exist: the build itself goes on
setup(name={name!r}, version="1.0", py_modules=["grader_adversarial_evil"])
"""


@pytest.fixture
def evil_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An extra index serving only the hostile archive; yields the canary path its setup.py writes."""
    files = tmp_path / "index"
    files.mkdir()
    canary = tmp_path / "setup-py-ran"
    write_sdist(files, EVIL, "1.0", {"setup.py": SETUP_PY.format(canary=str(canary), name=EVIL),
                                     "grader_adversarial_evil.py": "VALUE = 1\n"})
    with local_index(files) as url:
        monkeypatch.setenv("UV_INDEX", url)
        monkeypatch.setattr("grader.resolve.index_urls", lambda: (url, "https://pypi.org/simple/"))
        yield canary


def quiet(_: str) -> None:
    pass


@pytest.mark.parametrize("target", ["linux-container", "host"])
def test_without_a_builder_the_archive_is_reported_and_never_run(evil_index: Path, target: str) -> None:
    request = ResolveRequest((f"{EVIL}==1.0",), (), (), None, sandbox_target("3.11", target), None)
    resolution = resolve(request, None, quiet)
    assert resolution.packages == ()
    assert [f.rule for f in resolution.findings] == ["deps.no-wheel"]
    assert EVIL in resolution.findings[0].message
    assert not evil_index.exists(), "the archive's setup.py ran on the host"


@pytest.mark.docker
def test_with_docker_the_archive_is_built_in_a_container_never_on_the_host(
    evil_index: Path, docker_client: Any
) -> None:
    from grader.sandbox.docker import DockerSandbox

    sandbox = DockerSandbox(client=docker_client)
    request = ResolveRequest((f"{EVIL}==1.0",), (), (), None, sandbox_target("3.11", "linux-container"), None)
    resolution = resolve(request, sandbox.builder(Limits()), quiet)
    (package,) = resolution.packages
    assert (package.name, package.version, package.built) == (EVIL, "1.0", True)
    assert not evil_index.exists(), "the archive's setup.py ran on the host"


def test_environments_install_wheels_only_and_offline() -> None:
    from grader.sandbox.images.environment import PIP_INSTALL_SCRIPT, UV_INSTALL_SCRIPT

    assert "--only-binary=:all:" in PIP_INSTALL_SCRIPT and "--no-index" in PIP_INSTALL_SCRIPT
    assert "--no-build" in UV_INSTALL_SCRIPT and "--no-index" in UV_INSTALL_SCRIPT and "--offline" in UV_INSTALL_SCRIPT
    local = (REPO_ROOT / "grader" / "sandbox" / "venvs.py").read_text()
    assert '"--no-index"' in local and '"--only-binary=:all:"' in local
    resolver = (REPO_ROOT / "grader" / "uv.py").read_text()
    assert '"--no-build"' in resolver, "uv must never build (run) a source archive on the host"


def test_requirement_lines_that_point_pip_elsewhere_are_all_dropped() -> None:
    deps = read_dependencies(CASES_DIR / "requirements-attack")
    assert deps.requirements == ()
    ignored = [f for f in deps.findings if f.rule == "deps.ignored"]
    assert len(ignored) == 11, [f.message for f in deps.findings]
    reasons = " ".join(f.message for f in ignored)
    for why in ("sets a package index", "adds a package index", "adds a place to find packages", "trusts another host",
                "editable install", "local path", "URL", "version-control checkout", "outside the project"):
        assert why in reasons, why
