"""How an environment image is made (the installs themselves: tests/docker/grader/sandbox/test_images.py)."""

from __future__ import annotations

import json
import platform
import shlex
import sys
from pathlib import Path
from typing import Any

from grader.engine import Image
from grader.sandbox.docker_pod import MANAGED_LABEL
from grader.sandbox.images import environment
from grader.sandbox.owner import OWNER_PID_LABEL


def test_the_install_never_builds_a_source_archive_nor_reaches_an_index() -> None:
    pip = shlex.split(environment.PIP_INSTALL_SCRIPT)
    uv = shlex.split(environment.UV_INSTALL_SCRIPT.format(timeout=environment.INSTALL_TIMEOUT_S))
    assert {"--no-index", "--only-binary=:all:", "--no-deps"} <= set(pip)
    assert {"--no-index", "--no-build", "--no-deps", "--offline", "--no-config", "--compile-bytecode"} <= set(uv)
    assert f"UV_COMPILE_BYTECODE_TIMEOUT={environment.INSTALL_TIMEOUT_S}" in uv
    for words in (pip, uv):
        assert "chmod" not in words  # the umask does it, without copying the base venv up into the layer


def test_both_installers_summaries_are_counted() -> None:
    assert environment.installed_count("Resolved 2\nSuccessfully installed idna-3.7 six-1.16.0\n") == 2
    assert environment.installed_count("Prepared 18 packages in 30ms\nInstalled 18 packages in 41ms\n") == 18
    assert environment.installed_count(" Installed 1 package in 3ms\n") == 1
    assert environment.installed_count("error: no wheel for six\n") is None


class _Engine:
    """Stands beside the Docker test of the choice (tests/docker/grader/sandbox/test_images.py): an engine of
    another architecture than this host's, which no test machine has."""

    def __init__(self, arch: str) -> None:
        self.arch = arch

    def version(self) -> dict[str, str]:
        return {"Arch": self.arch}


def test_pip_installs_where_the_hosts_uv_cannot_run_in_the_engines_containers(monkeypatch: Any) -> None:
    here = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    other = "s390x" if here != "s390x" else "amd64"
    assert environment.choose_installer(_Engine(other)).name == "pip"  # type: ignore[arg-type]
    monkeypatch.setattr(sys, "platform", "darwin")
    assert environment.choose_installer(_Engine(here)).name == "pip"  # type: ignore[arg-type]
    monkeypatch.setattr(sys, "platform", "linux")
    assert environment.choose_installer(_Engine(here)).name == "uv"  # type: ignore[arg-type]


def test_the_uv_binary_is_linked_into_the_inputs_executable(tmp_path: Path) -> None:
    uv = tmp_path / "uv"
    uv.write_bytes(b"ELF")
    uv.chmod(0o700)  # not executable by others: copied, the original left as it was
    inputs = environment._install_inputs(tmp_path / "scratch", None, [], uv)
    assert (inputs / "uv").stat().st_mode & 0o777 == 0o755 and uv.stat().st_mode & 0o777 == 0o700
    assert (inputs / "uv").stat().st_ino != uv.stat().st_ino


def test_the_committed_image_gets_the_bases_command_back_and_none_of_the_install_containers_labels() -> None:
    base = Image("sha256:base", ("grader-base:py3.11",), {"grader.role": "base"}, 0, ("bash",))
    changes = environment._image_config(base, "env", "k" * 40)
    assert changes[0] == 'CMD ["bash"]'
    labels = dict(pair.split("=", 1) for pair in shlex.split(changes[1].removeprefix("LABEL ")))
    assert labels["grader.role"] == "env" and labels["grader.key"] == "k" * 40
    # A commit keeps the container's labels: cleanup would otherwise take the image for a leftover container's.
    assert labels[MANAGED_LABEL] == "" and labels[OWNER_PID_LABEL] == ""
    assert json.loads(changes[0].removeprefix("CMD ")) == ["bash"]


def test_the_inputs_are_readable_by_everyone_and_the_store_is_left_as_it_was(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    shared = wheels / "six-1.16.0-py2.py3-none-any.whl"
    private = wheels / "idna-3.7-py3-none-any.whl"
    for wheel, mode in ((shared, 0o644), (private, 0o600)):
        wheel.write_bytes(b"zip")
        wheel.chmod(mode)
    inputs = environment._install_inputs(tmp_path / "scratch", wheels, ["six==1.16.0", "idna==3.7"])
    assert (inputs / "wheels" / shared.name).stat().st_ino == shared.stat().st_ino  # readable: linked
    assert (inputs / "wheels" / private.name).stat().st_ino != private.stat().st_ino  # private: copied
    assert oct(private.stat().st_mode & 0o777) == oct(0o600), "the store's wheel was changed"
    for path in (inputs / "wheels" / private.name, inputs / "requirements.txt"):
        assert path.stat().st_mode & 0o444 == 0o444, path
    assert (inputs / "requirements.txt").read_text() == "six==1.16.0\nidna==3.7\n"
