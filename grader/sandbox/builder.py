"""Build one source archive into a wheel in a throwaway container: no network, not root, capped.

A package's build backend (its `setup.py`, a compiler run) is code from the candidate's dependency list, so
it never runs on the host. The container starts from `grader-build:pyX.Y` (the base image's Python with a
C compiler and headers), sees the archive and the wheels of its build requirements read-only, writes only
its output directory and a tmpfs, and runs `pip wheel --no-index` so nothing is fetched. It carries the
grader's labels and is removed afterwards, whatever happened.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from grader import cache
from grader.engine import Container, ContainerSpec, Mount
from grader.errors import SandboxError
from grader.resolve import BuildOutcome
from grader.sandbox import images
from grader.sandbox.docker_pod import SANDBOX_TMPFS, Launcher

if TYPE_CHECKING:
    from grader.sandbox.docker import DockerSandbox

BUILD_TIMEOUT_S = 900
MIN_MEMORY_MB = 1024  # a C compiler needs more than an app; the app's own limit applies when it is higher
MIN_PIDS = 256  # compilers and build backends fork freely
TAIL_LINES = 12
ERROR_WORD = re.compile(r"(^|[\s:])(error|Error|ERROR)\b(?!=)")
COMPILER_COMMAND = re.compile(r"(^|/)(x86_64-linux-gnu-|aarch64-linux-gnu-)?(gcc|g\+\+|cc|clang)\s")
Log = Callable[[str], None]


class ContainerBuilder:
    """A `grader.resolve.Builder` backed by one DockerSandbox's engine and labels."""

    def __init__(self, sandbox: DockerSandbox, memory_mb: int, pids: int, cpus: float) -> None:
        self.sandbox = sandbox
        self.memory_mb = max(memory_mb, MIN_MEMORY_MB)
        self.pids = max(pids, MIN_PIDS)
        self.cpus = cpus
        self._image: str | None = None
        self._identity: str | None = None

    @property
    def image(self) -> str:
        """The build image's tag, built on first use."""
        if self._image is None:
            self._image = images.ensure_build_image(self.sandbox.engine, self.sandbox.python, log=self.sandbox.log)
        return self._image

    @property
    def identity(self) -> str:
        """The build image's id: a failed build is tried again when the image changed."""
        if self._identity is None:
            image = self.sandbox.engine.image(self.image)
            if image is None:
                raise SandboxError(f"the build image {self.image} vanished from the engine")
            self._identity = image.id
        return self._identity

    def build_wheel(self, sdist: Path, build_wheels: Sequence[Path], out_dir: Path) -> BuildOutcome:
        """Build `sdist` in a container; the wheel (if any) is moved into `out_dir`."""
        run_id = uuid.uuid4().hex[:12]
        with tempfile.TemporaryDirectory(prefix="build-", dir=cache.scratch_dir()) as scratch_name:
            scratch = Path(scratch_name)
            inputs, output = _inputs(scratch, sdist, build_wheels), scratch / "out"
            output.mkdir()
            output.chmod(0o777)
            log, code = self._run(self.sandbox.launcher(run_id), sdist.name, inputs, output)
            wheels = sorted(output.glob("*.whl"))
            if code != 0 or not wheels:
                return BuildOutcome(None, _tail(log, code))
            target = out_dir / wheels[0].name
            shutil.move(str(wheels[0]), target)
            return BuildOutcome(target, "")

    def _run(self, launcher: Launcher, sdist_name: str, inputs: Path, output: Path) -> tuple[str, int | None]:
        # --use-pep517: an isolated build from /in/wheels even for a bare setup.py (the venv's setuptools
        # may lack bdist_wheel); --no-index: nothing is fetched, there is no network anyway.
        command = ["python", "-m", "pip", "wheel", "--no-index", "--find-links", "/in/wheels", "--no-deps",
                   "--use-pep517", "--no-cache-dir", "--disable-pip-version-check", "--wheel-dir", "/out",
                   f"/in/{sdist_name}"]
        container: Container | None = None
        try:
            container = launcher.start("build", ContainerSpec(
                self.image, command, working_dir="/tmp",
                environment={"HOME": "/tmp", "TMPDIR": "/tmp", "PIP_NO_INPUT": "1"},
                mounts=(Mount(str(inputs), "/in"), Mount(str(output), "/out", writable=True)),
                tmpfs={"/tmp": f"size=2g,{SANDBOX_TMPFS}"},
                memory_mb=self.memory_mb, no_swap=True, pids=self.pids, cpus=self.cpus,
            ))
            code = container.wait(BUILD_TIMEOUT_S)  # None: the timeout, which what it printed so far explains
            return container.logs(), code
        finally:
            if container is not None:
                container.discard()


def _inputs(scratch: Path, sdist: Path, build_wheels: Sequence[Path]) -> Path:
    """A read-only input tree: the archive and a `wheels/` dir, readable by the sandbox user."""
    inputs = scratch / "in"
    (inputs / "wheels").mkdir(parents=True)
    shutil.copy2(sdist, inputs / sdist.name)
    for wheel in build_wheels:
        shutil.copy2(wheel, inputs / "wheels" / wheel.name)
    for directory, _dirs, names in os.walk(inputs):
        os.chmod(directory, 0o755)
        for name in names:
            os.chmod(os.path.join(directory, name), 0o644)
    return inputs


def _tail(log: str, code: int | None) -> str:
    """The last meaningful lines of pip's build output, as one line."""
    lines = [line.strip() for line in log.splitlines() if line.strip() and not line.strip().startswith("note:")]
    # A compiler's command line names -Werror flags: it is no error message.
    errors = [line for line in lines if ERROR_WORD.search(line) and not COMPILER_COMMAND.search(line)]
    chosen = (errors or lines)[-TAIL_LINES:]
    prefix = "the build timed out" if code is None else f"exit {code}"
    text = " | ".join(chosen) if chosen else "no output"
    return f"{prefix}: {text}"[:1500]
