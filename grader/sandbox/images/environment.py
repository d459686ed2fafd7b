"""Environment and runner images: the base image plus one set of requirements, built once per key.

`grader-env:<key>` holds the candidate's requirements, `grader-runner:<key>` the grader's own tools (pytest,
httpx, the checks' tools). Both are installed from wheels the host already downloaded, by uv (the grader's own
binary, where it runs in the engine's containers; else the base venv's pip) in a container with no network that
is then committed, and reused by every later grading with the same key (decided by `grader.environments`).
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import sys
import tempfile
import uuid
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from grader import __version__, cache
from grader.engine import ContainerSpec, Engine, EngineError, Image, Mount
from grader.errors import SandboxError
from grader.sandbox.base import Role
from grader.sandbox.docker_pod import MANAGED_LABEL, RUN_LABEL
from grader.sandbox.images.building import Log, key_lock, short
from grader.sandbox.owner import owner_labels
from grader.uv import ResolverUnavailable, uv_binary

INSTALL_INPUTS = "/tmp/grader-install"  # requirements.txt, wheels/ and uv, mounted read-only
# umask 022: every file the installer writes is readable by the sandbox user (no `chmod -R`, which copied the base
# venv up into the layer). Wheels only: a package's setup.py never runs (the requirements come from the candidate).
# --no-deps: requirements.txt holds the whole resolution (exact pins, see grader.resolve), nothing more.
# Bytecode is compiled at install: the sandbox's root filesystem is read-only, so an import could not cache it.
# An empty requirements.txt is valid: the image is then the base venv alone.
_IF_ANY = f"umask 022 && if [ -s {INSTALL_INPUTS}/requirements.txt ]; then "
PIP_INSTALL_SCRIPT = (
    _IF_ANY + "/opt/venv/bin/python -m pip install --no-index --no-cache-dir --only-binary=:all: --no-deps "
    f"--disable-pip-version-check --find-links {INSTALL_INPUTS}/wheels -r {INSTALL_INPUTS}/requirements.txt; fi"
)
# uv installs and compiles in parallel: a whole build of an 18-wheel set 4.9 -> 3.5 s (docs/performance.md). Its
# bytecode timeout (60 s by default) is lifted to the install's own; `.lock` is uv's, not the environment's.
UV_INSTALL_SCRIPT = (
    _IF_ANY + f"UV_COMPILE_BYTECODE_TIMEOUT={{timeout}} {INSTALL_INPUTS}/uv pip install --offline --no-cache "
    "--no-config --python /opt/venv/bin/python --no-index --no-build --no-deps --compile-bytecode "
    f"--find-links {INSTALL_INPUTS}/wheels -r {INSTALL_INPUTS}/requirements.txt && rm -f /opt/venv/.lock; fi"
)
INSTALL_TIMEOUT_S = 1800  # a big wheel set on a loaded machine; the installer prints nothing while it unpacks
INSTALL_MEMORY_MB = 2048
INSTALL_PIDS = 256
TAIL_LINES = 12
# Image keys become tags and label values: keep them to what a Docker tag accepts.
_KEY_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_MACHINES = {"amd64": "x86_64", "arm64": "aarch64"}  # the engine's architecture names, as `uname -m` says them
# What each installer prints once it is done: pip names every package, uv counts them.
_SUMMARIES = (re.compile(r"^Successfully installed (.+)$"), re.compile(r"^Installed (\d+) packages? in "))


@dataclass(frozen=True)
class Installer:
    """How the install container installs: `uv` (the grader's binary, linked into the inputs) or `pip`."""

    name: str
    script: str
    binary: Path | None


@dataclass(frozen=True)
class ImageRef:
    """An image ready for gradings, and whether this call built it or found it."""

    tag: str
    id: str
    reused: bool


def ensure_python_image(
    engine: Engine,
    *,
    base: str,
    role: Role,
    key: str,
    wheels_dir: Path | None,
    requirements: Sequence[str],
    log: Log,
) -> ImageRef:
    """The image `grader-<role>:<key[:20]>`: `base` plus `requirements`, built once per key.

    `key` must identify the base and the requirements (the caller hashes them). The build installs from
    `wheels_dir` only, with no network; parallel gradings asking for the same key wait for one build.
    """
    if not _KEY_PATTERN.match(key):
        raise SandboxError(f"invalid image key {key!r}: use letters, digits, '.', '_' and '-'")
    _check_requirements(requirements)
    tag = f"grader-{role}:{key[:20]}"
    reused = _reusable(engine, tag, key)
    if reused is not None:
        return reused
    with key_lock(key, log):
        # Another grading may have built it while this one waited for the lock.
        reused = _reusable(engine, tag, key)
        if reused is not None:
            return reused
        log(f"building {tag} from {base} ({len(requirements)} requirements)")
        image_id = _build_python_image(
            engine,
            base=base,
            role=role,
            key=key,
            tag=tag,
            wheels_dir=wheels_dir,
            requirements=requirements,
            log=log,
        )
    log(f"built {tag} ({short(image_id)})")
    return ImageRef(tag=tag, id=image_id, reused=False)


def _reusable(engine: Engine, tag: str, key: str) -> ImageRef | None:
    """The existing image under `tag` if it was built for this very key (tags hold only 20 characters)."""
    image = engine.image(tag)
    if image is None or (image.labels or {}).get("grader.key") != key:
        return None
    return ImageRef(tag=tag, id=image.id, reused=True)


def _check_requirements(requirements: Sequence[str]) -> None:
    """One requirement per line and no pip options: a requirements file could otherwise redirect pip."""
    for requirement in requirements:
        if not requirement.strip() or "\n" in requirement or "\r" in requirement:
            raise SandboxError(f"invalid requirement {requirement!r}: one non-empty line each")
        if requirement.lstrip().startswith("-"):
            raise SandboxError(f"invalid requirement {requirement!r}: pip options are not allowed")


def _build_python_image(
    engine: Engine,
    *,
    base: str,
    role: Role,
    key: str,
    tag: str,
    wheels_dir: Path | None,
    requirements: Sequence[str],
    log: Log,
) -> str:
    """Install `requirements` into the base image's venv in a container with no network, then commit it.

    One container and one commit: a `docker build` of the same install (a context upload, a stage per step,
    a second stage copying the venv, the removal of the first) took about twice as long for the same wheels
    (benchmarks/notes.md, "Cold cohorts"). The wheels are mounted, never copied, so no layer holds them, and
    pip replaces a base venv package (pip, setuptools) the candidate pins the ordinary way.
    """
    base_image = engine.image(base)
    if base_image is None:
        raise SandboxError(f"could not build {tag}: the base image {base} is missing; run `grader sandbox bootstrap`")
    if wheels_dir is not None and not wheels_dir.is_dir():
        raise SandboxError(f"the wheels directory {wheels_dir} does not exist")
    installer = choose_installer(engine)
    with tempfile.TemporaryDirectory(prefix="install-", dir=cache.scratch_dir()) as scratch_name:
        inputs = _install_inputs(Path(scratch_name), wheels_dir, requirements, installer.binary)
        container = engine.run_install(ContainerSpec(
            base, ["sh", "-c", installer.script], labels=_install_labels(key),
            mounts=(Mount(str(inputs), INSTALL_INPUTS),), memory_mb=INSTALL_MEMORY_MB, pids=INSTALL_PIDS,
            cpus=float(os.cpu_count() or 1),
        ))
        try:
            code = container.wait(INSTALL_TIMEOUT_S)  # None: the timeout
            output = container.logs()
            count = installed_count(output)
            if count is not None:
                log(f"installed {count} package(s)")
            if code != 0:
                raise SandboxError(_install_failure(tag, installer.name, code, output))
            return container.commit(tag, _image_config(base_image, role, key))
        finally:
            container.discard()


def choose_installer(engine: Engine) -> Installer:
    """uv where the grader's own uv binary runs in the engine's containers (a Linux host of the engine's
    architecture), else pip from the base venv: the same wheels and pins either way."""
    binary = _uv_for_containers(engine)
    if binary is None:
        return Installer("pip", PIP_INSTALL_SCRIPT, None)
    return Installer("uv", UV_INSTALL_SCRIPT.format(timeout=INSTALL_TIMEOUT_S), binary)


def _uv_for_containers(engine: Engine) -> Path | None:
    """The grader's uv binary if the engine's containers can execute it, else None."""
    if sys.platform != "linux":
        return None
    try:
        binary = Path(uv_binary())
        arch = str(engine.version().get("Arch", ""))
    except (ResolverUnavailable, FileNotFoundError, EngineError):
        return None
    return binary if _MACHINES.get(arch, arch) == platform.machine() else None


def installed_count(output: str) -> int | None:
    """How many packages the installer's summary line says it installed (None: no summary)."""
    for line in output.splitlines():
        for pattern in _SUMMARIES:
            found = pattern.match(line.strip())
            if found:
                words = found.group(1)
                return int(words) if words.isdigit() else len(words.split())
    return None


def _install_inputs(scratch: Path, wheels_dir: Path | None, requirements: Sequence[str],
                    uv: Path | None = None) -> Path:
    """A read-only input tree for the install container: `requirements.txt`, `wheels/` and the uv binary, readable
    by anyone (an engine remapping users may not run the install as the host's root)."""
    inputs = scratch / "in"
    (inputs / "wheels").mkdir(parents=True)
    (inputs / "requirements.txt").write_text("".join(f"{requirement.strip()}\n" for requirement in requirements))
    if uv is not None:
        _readable_copy(uv, inputs / "uv", mode=0o755)
    for wheel in sorted(wheels_dir.iterdir()) if wheels_dir is not None else ():
        if wheel.is_file():
            _readable_copy(wheel, inputs / "wheels" / wheel.name)
    for path in (inputs, inputs / "wheels"):
        path.chmod(0o755)
    (inputs / "requirements.txt").chmod(0o644)
    return inputs


def _readable_copy(source: Path, target: Path, mode: int = 0o644) -> None:
    """A hard link where the source is readable by anyone already (and executable, for `mode` 0o755), else a copy
    made so: the store's own files are never changed (not even their mode: a link shares it)."""
    if source.stat().st_mode & mode == mode:
        try:
            os.link(source, target)
            return
        except OSError:  # another filesystem: copy
            pass
    shutil.copyfile(source, target)
    target.chmod(mode)


def _install_labels(key: str) -> dict[str, str]:
    """The install container is the grader's like any other: an orphan (its grader killed) is cleaned up."""
    return {MANAGED_LABEL: "1", RUN_LABEL: f"install-{uuid.uuid4().hex[:12]}", "grader.role": "install",
            "grader.build-key": key, "grader.version": __version__, **owner_labels()}


def _image_config(base_image: Image, role: Role, key: str) -> list[str]:
    """The committed image's configuration: the base's command again (the container's was the install), the
    image's own labels, and the install container's labels emptied (a commit keeps a container's labels)."""
    cleared = {label: "" for label in _install_labels(key) if label not in {"grader.role", "grader.version"}}
    labels = {**cleared, "grader.role": role, "grader.key": key, "grader.version": __version__}
    return [f"CMD {json.dumps(base_image.cmd or ['bash'])}",
            "LABEL " + " ".join(f"{name}={json.dumps(value)}" for name, value in labels.items())]


def _install_failure(tag: str, installer: str, code: int | None, output: str) -> str:
    """One sentence, then what the installer printed last (where it says what it could not find)."""
    reason = "the install timed out" if code is None else f"{installer} exited with code {code}"
    lines = [f"could not build {tag}: {installer} could not install the requirements from the wheels ({reason})."]
    tail = [line for line in output.splitlines() if line.strip()][-TAIL_LINES:]
    if tail:
        lines.append("last output of the install:")
        lines.extend(f"  {line}" for line in tail)
    return "\n".join(lines)


def remove_images(engine: Engine, roles: Iterable[Role], *, keys: Collection[str] | None = None) -> int:
    """Delete the grader's images of these roles (and install-stage leftovers); return how many went.

    `keys` limits it to the images built for those keys (cache pruning removes the least used ones).
    An image a container still uses is skipped, not forced: a grading may be running on it.
    """
    selections: list[tuple[list[str], bool, str]] = [([f"grader.role={role}"], False, "grader.key") for role in roles]
    selections.append((["grader.stage=install"], True, "grader.build-key"))
    removed = 0
    for labels, dangling, key_label in selections:
        for image in engine.images(labels, dangling=dangling):
            if keys is not None and image.labels.get(key_label) not in keys:
                continue
            removed += _remove_every_tag(engine, image)
    return removed


def _remove_every_tag(engine: Engine, image: Image) -> int:
    """Delete `image` tag by tag (removing an image with several tags by id needs force); 1 if it went, else 0."""
    try:
        for tag in image.tags[:-1]:
            engine.remove_image(tag)
        engine.remove_image(image.tags[-1] if image.tags else image.id)
    except EngineError:
        return 0
    return 1
