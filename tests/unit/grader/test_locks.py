"""Lock files are read (never executed or handed to a tool) into exact versions per package."""

from __future__ import annotations

import json
from pathlib import Path

from grader.locks import find_lock, read_lock
from tests.conftest import REPO_ROOT

FIXTURES = REPO_ROOT / "tests" / "fixtures" / "submissions"


def write(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def test_poetry_lock_of_the_bcrypt_fixture() -> None:
    lock = find_lock(FIXTURES / "locked-bcrypt")
    assert lock is not None and lock.file == "poetry.lock"
    assert lock.versions()["bcrypt"] == "4.2.0"
    assert lock.versions()["passlib"] == "1.7.4"
    assert "bcrypt==4.2.0" in lock.constraints()


def test_poetry_lock_groups_old_and_new(tmp_path: Path) -> None:
    write(tmp_path, "poetry.lock", """
[[package]]
name = "Flask"
version = "2.3.3"
category = "main"

[[package]]
name = "pytest"
version = "7.4.0"
category = "dev"

[[package]]
name = "private"
version = "1.0"
[package.source]
type = "git"
url = "https://example.invalid/private.git"
""")
    lock = read_lock(tmp_path, "poetry.lock")
    assert lock.main_requirements() == ("flask==2.3.3",)
    assert lock.constraints() == ("flask==2.3.3", "pytest==7.4.0")
    assert any("private" in f.message and "git" in f.message for f in lock.findings)


def test_uv_lock_skips_the_project_itself_and_non_registry_sources(tmp_path: Path) -> None:
    write(tmp_path, "uv.lock", """
version = 1
requires-python = ">=3.11"

[[package]]
name = "myapp"
version = "0.1.0"
source = { editable = "." }
dependencies = [{ name = "fastapi" }]

[[package]]
name = "fastapi"
version = "0.110.0"
source = { registry = "https://pypi.org/simple" }

[[package]]
name = "numpy"
version = "1.26.4"
source = { registry = "https://pypi.org/simple" }
resolution-markers = ["python_full_version >= '3.12'"]

[[package]]
name = "numpy"
version = "1.24.4"
source = { registry = "https://pypi.org/simple" }
resolution-markers = ["python_full_version < '3.12'"]

[[package]]
name = "vendored"
version = "0.1"
source = { path = "../vendored" }
""")
    lock = read_lock(tmp_path, "uv.lock")
    assert lock.versions() == {"fastapi": "0.110.0", "numpy": "1.24.4"}  # the fork that fits Python 3.11
    assert any("vendored" in f.message for f in lock.findings)


def test_pylock_toml_groups_come_from_markers(tmp_path: Path) -> None:
    write(tmp_path, "pylock.toml", """
lock-version = "1.0"
created-by = "uv"
default-groups = ["default"]

[[packages]]
name = "django"
version = "5.0.6"

[[packages]]
name = "pytest-django"
version = "4.8.0"
marker = "'dev' in dependency_groups"
""")
    lock = find_lock(tmp_path)
    assert lock is not None and lock.file == "pylock.toml"
    assert lock.main_requirements() == ("django==5.0.6",)
    assert set(lock.versions()) == {"django", "pytest-django"}


def test_pdm_and_pipfile_locks(tmp_path: Path) -> None:
    write(tmp_path / "pdm", "pdm.lock", """
[metadata]
groups = ["default", "test"]

[[package]]
name = "httpx"
version = "0.27.0"
groups = ["default"]

[[package]]
name = "pytest"
version = "8.2.0"
groups = ["test"]
""")
    assert read_lock(tmp_path / "pdm", "pdm.lock").main_requirements() == ("httpx==0.27.0",)
    pipfile_lock = {"_meta": {}, "default": {"flask": {"version": "==2.2.5", "hashes": []},
                                              "mylib": {"git": "https://example.invalid/x.git", "ref": "abc"}},
                    "develop": {"pytest": {"version": "==7.2.0"}}}
    write(tmp_path / "pipenv", "Pipfile.lock", json.dumps(pipfile_lock))
    lock = read_lock(tmp_path / "pipenv", "Pipfile.lock")
    assert lock.versions() == {"flask": "2.2.5", "pytest": "7.2.0"}
    assert lock.main_requirements() == ("flask==2.2.5",)


def test_first_lock_wins_and_a_broken_one_is_a_finding(tmp_path: Path) -> None:
    write(tmp_path, "uv.lock", "version = 1\n[[package]]\nname = 'six'\nversion = '1.16.0'\n"
                               "source = { registry = 'x' }\n")
    write(tmp_path, "poetry.lock", "this is [not toml")
    lock = find_lock(tmp_path)
    assert lock is not None and lock.file == "uv.lock" and lock.versions() == {"six": "1.16.0"}
    assert any("poetry.lock" in f.message and "ignored" in f.message for f in lock.findings)
    broken = read_lock(tmp_path, "poetry.lock")
    assert broken.packages == () and broken.findings[0].rule == "deps.lock-invalid"


def test_no_lock(tmp_path: Path) -> None:
    write(tmp_path, "requirements.txt", "flask\n")
    assert find_lock(tmp_path) is None
