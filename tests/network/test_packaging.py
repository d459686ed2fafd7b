"""`pip install .` ships checks/, reports/ and challenges/ so an installed grader works outside the checkout."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(REPO_ROOT)],
                   check=True, capture_output=True, timeout=300)
    return next(dist.glob("takehome_grader-*.whl"))


def test_wheel_ships_data_and_checks(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for expected in (
        "checks/pytest_plugin.py",
        "checks/formats.py",
        "grader/checks/suite.py",
        "grader/schema/result.schema.json",
        "grader/sandbox/base.Dockerfile",
        "grader/_data/challenges/hello-api/challenge.toml",
        "grader/_data/challenges/hello-api/hidden/test_hidden.py",
        "grader/_data/challenges/hello-api/starter/main.py",
        "grader/templates/challenge/challenge.toml.tmpl",  # `grader challenge new`
        "grader/templates/challenge/hidden/test_hidden.py.tmpl",
    ):
        assert expected in names, expected
    assert any(n.startswith("grader/_data/reports/") for n in names)
    assert not any("__pycache__" in n for n in names)


def test_installed_grader_finds_its_challenges_outside_the_checkout(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                   check=True, capture_output=True, timeout=300)
    code = "import grader.paths as p; print(p.resource_dir('challenges')); print(p.checks_dir())"
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env={"PYTHONPATH": str(target)},
                          capture_output=True, text=True, check=True)
    challenges, checks = proc.stdout.split()
    assert challenges == str(target / "grader" / "_data" / "challenges")
    assert checks == str(target / "checks")
    listing = subprocess.run([sys.executable, "-m", "grader", "challenge", "list"], cwd=tmp_path,
                             env={"PYTHONPATH": str(target)}, capture_output=True, text=True, check=False)
    assert "hello-api" in listing.stdout, listing.stderr
