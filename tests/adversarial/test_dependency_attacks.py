"""Dependency attacks that need no sandbox: a package with only an sdist whose setup.py would run code,
and requirement lines that would point pip elsewhere. Nothing here reaches a package index: pip is
pointed at a local directory with `--no-index`."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from grader.deps import download_wheels, read_dependencies

from ..conftest import REPO_ROOT
from .corpus import CASES_DIR

EVIL = "grader-adversarial-evil"
SETUP_PY = """
from setuptools import setup

with open({canary!r}, "w") as canary:
    canary.write("setup.py ran on the host")
setup(name={name!r}, version="1.0")
"""


def sdist(directory: Path, canary: Path) -> Path:
    """An sdist whose setup.py writes `canary`: pip would run it to build a wheel or read metadata."""
    path = directory / "grader_adversarial_evil-1.0.tar.gz"
    files = {
        "setup.py": SETUP_PY.format(canary=str(canary), name=EVIL).encode(),
        "PKG-INFO": f"Metadata-Version: 2.1\nName: {EVIL}\nVersion: 1.0\n".encode(),
    }
    with tarfile.open(path, "w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(f"grader_adversarial_evil-1.0/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


@pytest.mark.parametrize("target", ["linux-container", "host"])
def test_sdist_only_package_is_dropped_and_its_setup_py_never_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, target: str
) -> None:
    links = tmp_path / "links"
    links.mkdir()
    canary = tmp_path / "setup-py-ran"
    sdist(links, canary)
    monkeypatch.setenv("PIP_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("PIP_NO_INDEX", "1")  # only the directory below: no index is asked
    monkeypatch.setenv("PIP_FIND_LINKS", str(links))
    monkeypatch.delenv("PIP_EXTRA_INDEX_URL", raising=False)

    wheels = download_wheels([f"{EVIL}==1.0"], tmp_path / "wheels", "3.11", target)  # type: ignore[arg-type]

    assert wheels.installable == () and wheels.files == ()
    assert [f.rule for f in wheels.findings] == ["deps.no-wheel"]
    assert EVIL in wheels.findings[0].message
    assert not canary.exists(), "pip ran the sdist's setup.py"


def test_environments_install_wheels_only_and_offline() -> None:
    dockerfile = (REPO_ROOT / "grader" / "sandbox" / "env.Dockerfile").read_text()
    assert "--only-binary=:all:" in dockerfile and "--no-index" in dockerfile
    local = (REPO_ROOT / "grader" / "sandbox" / "local.py").read_text()
    assert '"--no-index"' in local and '"--only-binary=:all:"' in local


def test_requirement_lines_that_point_pip_elsewhere_are_all_dropped() -> None:
    deps = read_dependencies(CASES_DIR / "requirements-attack")
    assert deps.requirements == ()
    ignored = [f for f in deps.findings if f.rule == "deps.ignored"]
    assert len(ignored) == 11, [f.message for f in deps.findings]
    reasons = " ".join(f.message for f in ignored)
    for why in ("sets a package index", "adds a package index", "adds a place to find packages", "trusts another host",
                "editable install", "local path", "URL", "version-control checkout", "outside the project"):
        assert why in reasons, why
