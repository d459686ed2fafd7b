"""Installable by anyone: a kit's own instructions in a fresh venv away from the checkout, and two fresh
installs of the same grader that score a submission identically (the tools are pinned and recorded)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from grader.toolchain import SCORING_TOOLS, lock_hash, locked_versions
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.slow
INSTALL_TIMEOUT_S = 1800  # a fresh venv downloads the grader's pinned dependencies


def away_from_the_checkout() -> dict[str, str]:
    """This process's environment without what would make an installed grader import the checkout instead
    (PYTHONPATH pointing at a worktree, the suite's own venv): a candidate's shell has neither."""
    return {name: value for name, value in os.environ.items()
            if name not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV")}


def guide_commands(guide: str) -> list[str]:
    """The shell lines of the first ```sh block of a kit's CHECKING.md, as a candidate would paste them."""
    block = re.search(r"```sh\n(.*?)```", guide, re.DOTALL)
    assert block is not None, guide
    return [line for line in block.group(1).splitlines() if line.strip()]


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """hello-api's kit, exported by the checkout's grader and unpacked far from the checkout."""
    where = tmp_path_factory.mktemp("away")
    exported = subprocess.run([sys.executable, "-m", "grader", "challenge", "export", "hello-api", "--out",
                               str(where / "kit.zip")], capture_output=True, text=True, timeout=600, check=False)
    assert exported.returncode == 0, exported.stderr
    with zipfile.ZipFile(where / "kit.zip") as archive:
        archive.extractall(where)
    return where / "hello-api"


@pytest.fixture(scope="module")
def installed_kit(kit: Path) -> Path:
    """The kit's install lines run exactly as written, in the kit's folder; the venv they make."""
    commands = guide_commands((kit / "CHECKING.md").read_text())
    for command in commands[:-1]:  # every line but the check itself
        done = subprocess.run(command, shell=True, cwd=kit, capture_output=True, text=True,
                              timeout=INSTALL_TIMEOUT_S, check=False, env=away_from_the_checkout())
        assert done.returncode == 0, f"{command}\n{done.stderr[-3000:]}"
    return kit / ".grader-venv"


def test_the_kit_installs_its_own_grader_and_checks_the_starter(kit: Path, installed_kit: Path) -> None:
    wheels = list((kit / "grader-dist").glob("takehome_grader-*-py3-none-any.whl"))
    assert len(wheels) == 1
    where = subprocess.run([str(installed_kit / "bin" / "python"), "-c", "import grader; print(grader.__file__)"],
                           capture_output=True, text=True, check=True, cwd=kit, env=away_from_the_checkout())
    assert str(installed_kit) in where.stdout and str(REPO_ROOT) not in where.stdout
    check = guide_commands((kit / "CHECKING.md").read_text())[-1]
    done = subprocess.run(check, shell=True, cwd=kit, capture_output=True, text=True, timeout=1800, check=False,
                          env=away_from_the_checkout())
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert "overall" in done.stdout.lower() or "overall" in done.stderr.lower(), done.stdout


def check_with(venv: Path, kit: Path, out: Path) -> dict[str, Any]:
    """`grader check` of the flask reference against the kit, with the local backend, from `venv`."""
    source = REPO_ROOT / "challenges" / "hello-api" / "solutions" / "flask-ref"
    done = subprocess.run([str(venv / "bin" / "grader"), "check", str(source), "--challenge", str(kit),
                           "--sandbox", "local", "--out", str(out)],
                          capture_output=True, text=True, timeout=1800, check=False, cwd=out.parent,
                          env=away_from_the_checkout())
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    result: dict[str, Any] = json.loads((out / "flask-ref" / "result.json").read_text())
    return result


def test_two_fresh_installs_score_alike_with_their_tools_recorded(
    kit: Path, installed_kit: Path, tmp_path: Path
) -> None:
    second = tmp_path / "second-venv"
    subprocess.run([sys.executable, "-m", "venv", str(second)], check=True, timeout=300, env=away_from_the_checkout())
    wheel = next((kit / "grader-dist").glob("*.whl"))
    done = subprocess.run([str(second / "bin" / "pip"), "install", "-q", str(wheel)], capture_output=True,
                          text=True, timeout=INSTALL_TIMEOUT_S, check=False, env=away_from_the_checkout())
    assert done.returncode == 0, done.stderr[-3000:]
    first_result = check_with(installed_kit, kit, tmp_path / "first-out")
    second_result = check_with(second, kit, tmp_path / "second-out")
    for result in (first_result, second_result):
        assert result["status"] == "graded"
        assert result["tools"] == locked_versions() and set(result["tools"]) == set(SCORING_TOOLS)
        assert result["tools_lock"] == lock_hash()
    assert first_result["overall"] == second_result["overall"]
    assert ([(c["id"], c["score"]) for c in first_result["categories"]]
            == [(c["id"], c["score"]) for c in second_result["categories"]])
    assert ([(c["id"], c["score"], c["max_score"]) for c in first_result["checks"]]
            == [(c["id"], c["score"], c["max_score"]) for c in second_result["checks"]])
