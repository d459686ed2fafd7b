"""The candidate's own Dockerfile on the Docker backend (challenge `[docker] build = true`).

Built on the engine from the project's folder of the read-only snapshot (what the intake took: nothing of the
host beyond it), by the engine's classic builder, never on the host:
- RUN steps have no network (`network_mode="none"`) and the app's memory limit, swap included; a build that
  prints nothing for BUILD_SILENT_S or runs past BUILD_LIMIT_S is ended (the connection dropped, so the engine
  cancels it);
- the base image is the engine's own copy (`pull=False`; the engine fetches a FROM image it lacks only when a
  registry answers). A build that dies at a FROM step is skipped, "not built: base image unavailable": the
  engine's reach, never the candidate's failure;
- the image is tagged `grader-candidate:<run>` and labelled like every resource of the grading (run, session,
  owner, test run).
Then the smoke check: the image's own CMD/ENTRYPOINT in a container with the app's hardening (the engine's:
non-root, read-only root, no capabilities), environment (PORT, DATA_DIR, the challenge's `[app] env`) and
limits, with no network; the runner image joins its namespace and asks the health path until the challenge's
start-up timeout (`checks.wait_for_app`). The challenge's services are not started for it: a smoke test, not
the hidden suite. Both containers, the image and the layers a failed build left are removed in `finally`.
"""

from __future__ import annotations

import contextlib
import os
import re
import tarfile
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from checks.formats import POD_UPSTREAM_PORT, with_upstream_port
from grader.checks.suite import wait_for_app_command
from grader.engine import Container, ContainerSpec, Engine, EngineError, Mount
from grader.paths import checks_dir
from grader.sandbox.base import ImageJob, ImageOutcome
from grader.sandbox.cleanup import CANDIDATE_IMAGE_ROLE
from grader.sandbox.docker_pod import (
    APP_DATA_DIR,
    PRIVATE_TMPFS,
    RUNNER_LIB,
    SANDBOX_TMPFS,
    Launcher,
    app_environment_for,
)
from grader.sandbox.images.building import TAIL_LINES, BuildFailed

Log = Callable[[str], None]

IMAGE_REPOSITORY = "grader-candidate"
BUILD_SILENT_S = 300.0  # a step printing nothing this long (a RUN that sleeps, a pip install waiting on no network)
BUILD_LIMIT_S = 900.0  # the whole build
CONTEXT_LIMIT_BYTES = 256 * 2**20  # the project's files sent to the engine
PROBE_SLACK_S = 30.0  # the probe container's own start beyond the start-up timeout
LOG_TAIL_CHARS = 1500
SKIPPED_DIRS = frozenset({".git", ".hg", ".svn"})
_LAYER = re.compile(r"^\s*---> ([0-9a-f]{12,64})\s*$")  # the classic builder's id of each step's image
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_FROM_STEP = re.compile(r"^Step \d+/\d+ : FROM\b", re.IGNORECASE)  # its `---> <id>` is the base image: never ours


class ContextTooLarge(Exception):
    """The project's files are more than the engine is sent."""


def build_and_check(engine: Engine, launcher: Launcher, job: ImageJob, log: Log) -> ImageOutcome:
    """Build the project's Dockerfile, start its image and ask its health path; always remove what was made."""
    started = time.monotonic()
    if not (job.project_dir / "Dockerfile").is_file():
        return ImageOutcome("skipped", "not built: the project has no Dockerfile at its top")
    tag = f"{IMAGE_REPOSITORY}:{launcher.run_id}"
    layers: list[str] = []
    try:
        outcome = _build(engine, launcher, job, tag, layers, log)
        if outcome is None:
            outcome = _smoke(launcher, job, tag)
    finally:
        launcher.remove_all()
        _remove_images(engine, tag, layers)
    return ImageOutcome(outcome.status, outcome.summary, outcome.log_tail, round(time.monotonic() - started, 3))


def _build(engine: Engine, launcher: Launcher, job: ImageJob, tag: str, layers: list[str],
           log: Log) -> ImageOutcome | None:
    """None when the image was built, else why not (skipped when the base image is unavailable)."""
    try:
        with _context(job.project_dir) as context:
            run_candidate_build(engine, context, tag, launcher.labels(CANDIDATE_IMAGE_ROLE), job.limits.memory_mb,
                                layers, log)
    except ContextTooLarge:
        return ImageOutcome("failed", f"not built: the project's files are over {CONTEXT_LIMIT_BYTES // 2**20} MB, "
                            "more than the grader sends to the engine")
    except BuildFailed as failed:
        if failed.at_from:
            reason = failed.message.splitlines()[0][:300] if failed.message else "the engine could not get it"
            return ImageOutcome("skipped", f"not built: base image unavailable ({failed.step}: {reason})")
        return ImageOutcome("failed", failed.describe("the Dockerfile did not build").splitlines()[0],
                            "\n".join(failed.tail)[-LOG_TAIL_CHARS:])
    return None


def run_candidate_build(engine: Engine, context: IO[bytes], tag: str, labels: dict[str, str], memory_mb: int,
                        layers: list[str], log: Log) -> None:
    """The build itself, with no network for its steps; each step's image id goes into `layers` (so a failed
    build's can be removed). BuildFailed with the step it died in and its last lines."""
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    step = ""
    made_here = False  # whether the step's next `---> <id>` is an image this build made (not the base, not cache)
    deadline = time.monotonic() + BUILD_LIMIT_S
    stream = engine.build(context, tag=tag, buildargs={}, pull=False, network_mode="none", labels=labels,
                          memory_mb=memory_mb, silent_timeout_s=BUILD_SILENT_S)
    try:
        for chunk in stream:
            for raw in str(chunk.get("stream", "")).splitlines():
                line = _ANSI.sub("", raw).rstrip()
                layer = _LAYER.match(line)
                if layer:
                    if made_here:
                        layers.append(layer.group(1))
                elif line.startswith("Step "):
                    step, made_here = line, not _FROM_STEP.match(line)
                    tail.clear()
                    log(f"candidate Dockerfile: {line}")
                elif "Using cache" in line:
                    made_here = False
                elif line:
                    tail.append(line)
            if chunk.get("error"):
                raise BuildFailed(str(chunk["error"]), tail, step)
            if time.monotonic() > deadline:
                raise BuildFailed(f"the build ran longer than {BUILD_LIMIT_S:g} s", tail, step)
    except EngineError as exc:
        raise BuildFailed(exc.explanation, tail, step) from exc
    except OSError as exc:  # requests' errors are OSErrors: the silent-step timeout, a dropped connection
        raise BuildFailed(f"the build printed nothing for {BUILD_SILENT_S:g} s or lost the engine ({exc})",
                          tail, step) from exc
    finally:
        stream.close()  # drops the connection: the engine cancels a build still running
    if engine.image(tag) is None:
        raise BuildFailed(f"the build ended but no image is tagged {tag}", tail, step)


@contextlib.contextmanager
def _context(project: Path) -> Iterator[IO[bytes]]:
    """The project's folder as a tar (links kept as links, never followed; version-control folders left out)."""
    total = 0
    with tempfile.TemporaryFile(prefix="grader-candidate-context-") as handle:
        with tarfile.open(fileobj=handle, mode="w") as archive:
            for folder, dirs, files in os.walk(project):
                here = Path(folder)
                dirs[:] = sorted(name for name in dirs if name not in SKIPPED_DIRS)
                for name in [*dirs, *sorted(files)]:
                    path = here / name
                    info = archive.gettarinfo(str(path), arcname=str(path.relative_to(project)))
                    info.uid = info.gid = 0
                    info.uname = info.gname = ""
                    if info.isreg():
                        total += info.size
                        if total > CONTEXT_LIMIT_BYTES:
                            raise ContextTooLarge
                        with path.open("rb") as content:
                            archive.addfile(info, content)
                    elif info.isdir() or info.issym():
                        archive.addfile(info)
        handle.seek(0)
        yield handle


def _smoke(launcher: Launcher, job: ImageJob, tag: str) -> ImageOutcome:
    """The built image started as the app is, its health path asked from the runner image in its namespace."""
    limits = job.limits
    app = launcher.start("image-app", ContainerSpec(
        tag, [],  # the image's own CMD/ENTRYPOINT: what the Dockerfile says runs the service
        network="none",
        environment=app_environment_for(with_upstream_port(dict(job.app_env), POD_UPSTREAM_PORT), job.port),
        tmpfs={"/tmp": f"size=32m,{SANDBOX_TMPFS}", APP_DATA_DIR: f"size={limits.data_mb}m,{PRIVATE_TMPFS}"},
        init=True, memory_mb=limits.memory_mb, no_swap=True, cpus=limits.cpus, pids=limits.pids,
    ))
    url = f"http://127.0.0.1:{job.port}{job.health_path}"
    try:
        probe = _start_probe(launcher, job, app, url)
    except EngineError:
        if app.state().get("Status") != "exited":
            raise  # the engine's failure, not the image's
        probe = None  # the app exited before the probe could join its namespace
    code = _wait_for_probe(probe, app, limits.startup_timeout_s + PROBE_SLACK_S) if probe is not None else None
    if code == 0:
        return ImageOutcome("passed", f"built; its container started and answered {job.health_path}")
    log_tail = app.logs()[-LOG_TAIL_CHARS:]
    state = app.state()
    if state.get("Status") == "exited":
        why = f"its container exited with code {state.get('ExitCode')}"
    else:
        why = f"its container did not answer {job.health_path} within {limits.startup_timeout_s:g} s"
    return ImageOutcome("failed", f"built, but {why}", log_tail)


def _start_probe(launcher: Launcher, job: ImageJob, app: Container, url: str) -> Container:
    runner = job.environments.runner
    if runner is None or runner.image is None:
        raise EngineError("the runner image is not prepared: build the runner environment first")
    return launcher.start("image-probe", ContainerSpec(
        runner.image, wait_for_app_command("python", [url], job.limits.startup_timeout_s),
        network=f"container:{app.id}",
        environment={"PYTHONPATH": RUNNER_LIB, "HOME": "/tmp", "PYTHONDONTWRITEBYTECODE": "1"},
        working_dir="/tmp",
        mounts=(Mount(str(checks_dir()), f"{RUNNER_LIB}/checks"),),
        tmpfs={"/tmp": f"size=16m,{SANDBOX_TMPFS}"},
        memory_mb=256, pids=64, cpus=0.5,
    ))


def _wait_for_probe(probe: Container, app: Container, timeout_s: float) -> int | None:
    """The probe's exit code (0: the health path answered); None when the app exited first or time ran out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        code = probe.wait(1.0)
        if code is not None:
            return code
        if app.state().get("Status") == "exited":
            return None
    return None


def _remove_images(engine: Engine, tag: str, layers: list[str]) -> None:
    """Remove the image, then the layers this build made that are left (a failed build's: the newest first). A
    layer that carries a tag now is someone else's and stays; gone, shared or in use is never an error."""
    with contextlib.suppress(EngineError):
        engine.remove_image(tag)
    for layer in reversed(layers):
        with contextlib.suppress(EngineError):
            image = engine.image(layer)
            if image is not None and not image.tags:
                engine.remove_image(image.id)
