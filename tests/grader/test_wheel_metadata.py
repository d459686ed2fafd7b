"""Wheels an older patch release of the sandbox's Python needs, which pip on a newer host leaves out."""

from __future__ import annotations

import zipfile
from pathlib import Path

from grader.deps import download_wheels
from grader.wheel_metadata import container_environment, missing_requirements, wheel_name


def make_wheel(directory: Path, name: str, version: str, *requires: str) -> Path:
    path = directory / f"{name.replace('-', '_')}-{version}-py3-none-any.whl"
    metadata = "\n".join(["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}",
                          *[f"Requires-Dist: {r}" for r in requires]]) + "\n"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"{name.replace('-', '_')}-{version}.dist-info/METADATA", metadata)
    return path


def test_a_backport_for_an_older_patch_release_is_missing(tmp_path: Path) -> None:
    make_wheel(tmp_path, "redis", "5.2.1", 'async-timeout>=4.0.3; python_full_version < "3.11.3"',
               'hiredis>=3.0.0; extra == "hiredis"', 'pywin32; sys_platform == "win32"')
    assert missing_requirements(tmp_path, "3.11") == ["async-timeout>=4.0.3"]


def test_nothing_is_missing_when_the_set_is_complete_or_markers_exclude_it(tmp_path: Path) -> None:
    make_wheel(tmp_path, "redis", "5.2.1", 'async-timeout>=4.0.3; python_full_version < "3.11.3"')
    make_wheel(tmp_path, "async-timeout", "5.0.1")
    make_wheel(tmp_path, "tomli-user", "1.0", 'tomli; python_version < "3.11"')
    assert missing_requirements(tmp_path, "3.11") == []


def test_an_unreadable_wheel_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "broken-1.0-py3-none-any.whl").write_bytes(b"not a zip")
    assert missing_requirements(tmp_path, "3.11") == []


def test_the_environment_is_the_oldest_patch_release_on_linux() -> None:
    environment = container_environment("3.11", machine="x86_64")
    assert environment["python_full_version"] == "3.11.0"
    assert environment["sys_platform"] == "linux" and environment["platform_machine"] == "x86_64"
    assert wheel_name(Path("async_timeout-4.0.3-py3-none-any.whl")) == "async-timeout"


def test_a_real_download_for_the_container_includes_the_backport(tmp_path: Path) -> None:
    wheels = download_wheels(["redis==5.2.1"], tmp_path, "3.11", "linux-container")
    names = {wheel_name(Path(name)) for name in wheels.files}
    assert {"redis", "async-timeout"} <= names, names
