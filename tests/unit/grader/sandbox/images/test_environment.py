"""How an environment image is made (the installs themselves: tests/docker/grader/sandbox/test_images.py)."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

from grader.engine import Image
from grader.sandbox.docker_pod import MANAGED_LABEL
from grader.sandbox.images import environment
from grader.sandbox.owner import OWNER_PID_LABEL


def test_the_install_never_builds_a_source_archive_nor_reaches_an_index() -> None:
    words = shlex.split(environment.INSTALL_SCRIPT)
    assert {"--no-index", "--only-binary=:all:", "--no-deps"} <= set(words)
    assert "chmod" not in words  # the umask does it, without copying the base venv up into the layer


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
