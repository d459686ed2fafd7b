"""The local backend installs an environment offline from a wheels directory, as the grader does after
downloading the wheels from the package index (which this test does, hence the group). The rest of the
local backend, with no index: tests/unit/grader/sandbox/test_local.py.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from grader.sandbox.base import SandboxError
from grader.sandbox.local import LocalSandbox
from tests.conftest import skip_or_fail
from tests.unit.grader.sandbox.test_local import prepare


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """six's wheel, downloaded once by the host as the grader does before an offline install."""
    target = tmp_path_factory.mktemp("wheels")
    result = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--only-binary=:all:", "--no-deps", "-d", str(target),
         "six==1.16.0"],
        capture_output=True, text=True, timeout=120,
    )
    if result.returncode != 0:
        skip_or_fail(f"could not download the six wheel: {result.stderr.strip()[-300:]}")
    return target


def test_prepare_installs_requirements_offline_from_the_wheels_dir(
    wheels: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRADER_CACHE_DIR", str(tmp_path / "cache"))
    sandbox = LocalSandbox()

    env = prepare(sandbox, "six==1.16.0", wheels_dir=wheels)
    again = prepare(sandbox, "six==1.16.0", wheels_dir=wheels)

    assert env.venv is not None and not env.reused and again.reused
    installed = subprocess.run(
        [str(env.venv / "bin" / "python"), "-c", "import six; print(six.__version__)"],
        capture_output=True, text=True, check=True,
    )
    assert installed.stdout.strip() == "1.16.0"
    assert env.key != prepare(sandbox).key


def test_prepare_reports_the_pip_error_and_leaves_no_venv(
    wheels: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRADER_CACHE_DIR", str(tmp_path / "cache"))

    with pytest.raises(SandboxError, match=r"pip could not install .*: ERROR: .*six==99\.0") as caught:
        prepare(LocalSandbox(), "six==99.0", wheels_dir=wheels)

    assert "\n" not in str(caught.value)
    assert list((tmp_path / "cache" / "venvs").iterdir()) == []
