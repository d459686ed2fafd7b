"""Environment and runner images: the base image plus one set of requirements, built once per key.

`grader-env:<key>` holds the candidate's requirements, `grader-runner:<key>` the grader's own tools (pytest,
httpx, the checks' tools). Both are installed from wheels the host already downloaded, in a build that has no
network (`env.Dockerfile`), and reused by every later grading with the same key (decided by `grader.environments`).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from grader import __version__
from grader.engine import Engine, EngineError, Image
from grader.errors import SandboxError
from grader.sandbox.base import Role
from grader.sandbox.images.building import (
    BuildFailed,
    Log,
    build_context,
    dockerfile,
    key_lock,
    run_build,
    short,
)

ENV_DOCKERFILE = "env.Dockerfile"
# What `python3 -m venv` seeds the base venv with (base.Dockerfile). A pin of one of these makes pip replace
# the base's copy, and stage 1's COPY only adds files: the final stage then starts from an empty /opt/venv.
BASE_VENV_PACKAGES = frozenset({"pip", "setuptools", "wheel", "distribute"})
_FINAL_COPY = b"\nCOPY --from=0 /opt/venv /opt/venv\n"
_FRESH_VENV_COPY = b"\nRUN rm -rf /opt/venv\nCOPY --from=0 /opt/venv /opt/venv\n"
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
# Image keys become tags and label values: keep them to what a Docker tag accepts.
_KEY_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


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
    lines = "".join(f"{requirement.strip()}\n" for requirement in requirements)
    files: dict[str, bytes | Path] = {"requirements.txt": lines.encode()}
    if wheels_dir is not None:
        if not wheels_dir.is_dir():
            raise SandboxError(f"the wheels directory {wheels_dir} does not exist")
        for wheel in sorted(wheels_dir.iterdir()):
            if wheel.is_file():
                files[f"wheels/{wheel.name}"] = wheel
    try:
        with build_context(env_dockerfile(requirements), files, dirs=("wheels",)) as context:
            return run_build(
                engine,
                context,
                tag=tag,
                buildargs={"BASE": base, "ROLE": role, "KEY": key, "VERSION": __version__},
                pull=False,
                network_mode="none",  # the host downloaded every wheel; nothing is fetched in here
                log=log,
            )
    except BuildFailed as failure:
        if failure.at_from:
            raise SandboxError(
                f"could not build {tag}: the base image {base} is missing; run `grader sandbox bootstrap`"
                f"\n{failure.message}"
            ) from None
        raise SandboxError(
            failure.describe(f"could not build {tag}: pip could not install the requirements from the wheels")
        ) from None
    finally:
        _remove_install_stage(engine, key)


def env_dockerfile(requirements: Sequence[str]) -> bytes:
    """env.Dockerfile, its final stage emptying /opt/venv first when `requirements` replace a base venv package
    (rare: the extra step costs a container run and a layer)."""
    text = dockerfile(ENV_DOCKERFILE)
    if not replaces_base_packages(requirements):
        return text
    if _FINAL_COPY not in text:
        raise SandboxError(f"{ENV_DOCKERFILE} lacks its final COPY of /opt/venv")
    return text.replace(_FINAL_COPY, _FRESH_VENV_COPY)


def replaces_base_packages(requirements: Sequence[str]) -> bool:
    """Whether any requirement names a package the base venv was seeded with (pip, setuptools)."""
    for requirement in requirements:
        match = _NAME.match(requirement)
        if match and re.sub(r"[-_.]+", "-", match.group(1)).lower() in BASE_VENV_PACKAGES:
            return True
    return False


def _remove_install_stage(engine: Engine, key: str) -> None:
    """Delete the install stage's leftover images: they hold the wheels and nothing needs them any more."""
    for image in engine.images(["grader.stage=install", f"grader.build-key={key}"], dangling=True):
        with contextlib.suppress(EngineError):  # already gone, or a concurrent build of this key holds it
            engine.remove_image(image.id)


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
