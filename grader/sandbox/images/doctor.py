"""`grader sandbox doctor`: what the Docker sandbox has and what is missing, each with its fix."""

from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass

from grader.engine import Engine, connect, engine_address, sdk_version
from grader.errors import SandboxError
from grader.paths import cache_root
from grader.sandbox.images.base_image import DEFAULT_PYTHON, base_image_tag, build_image_tag
from grader.sandbox.images.building import image_exists, short


@dataclass(frozen=True)
class DoctorItem:
    """One line of `grader doctor`: what was checked, how it went, and how to fix it if it did not."""

    name: str
    ok: bool
    detail: str
    fix: str | None = None


def doctor(engine: Engine | None = None) -> list[DoctorItem]:
    """Check everything the Docker sandbox needs; connect on its own when no engine is given."""
    items = [_doctor_sdk()]
    if items[0].ok and engine is None:
        with contextlib.suppress(SandboxError):
            engine = connect(timeout=10)
    items.append(_doctor_engine(engine))
    if engine is not None and items[-1].ok:
        items.append(_doctor_base_image(engine, DEFAULT_PYTHON))
        items.append(_doctor_python_images(engine))
        items.append(_doctor_service_images(engine))
        items.append(_doctor_build_image(engine, DEFAULT_PYTHON))
    items.append(_doctor_debootstrap())
    items.append(_doctor_root())
    items.append(_doctor_cache())
    return items


def _doctor_sdk() -> DoctorItem:
    version = sdk_version()
    if version is None:
        return DoctorItem(
            "docker sdk", False, "the `docker` Python package is not importable", "pip install 'docker>=7'"
        )
    return DoctorItem("docker sdk", True, f"docker {version}")


def _doctor_engine(engine: Engine | None) -> DoctorItem:
    fix = "start dockerd (or set DOCKER_HOST), or grade with --sandbox local"
    if engine is None:
        return DoctorItem("docker engine", False, f"no engine answers at {engine_address()}", fix)
    try:
        version = engine.version()
    except Exception as exc:  # any transport error means the same thing here
        return DoctorItem("docker engine", False, f"the engine at {engine_address()} failed: {exc}", fix)
    return DoctorItem(
        "docker engine", True, f"Docker {version.get('Version', '?')} (API {version.get('ApiVersion', '?')})"
    )


def _doctor_base_image(engine: Engine, python: str) -> DoctorItem:
    tag = base_image_tag(python)
    image = engine.image(tag)
    if image is None:
        return DoctorItem(
            "base image",
            False,
            f"{tag} is missing",
            "run `grader sandbox bootstrap` (or `grader sandbox bootstrap --offline` without a registry)",
        )
    return DoctorItem("base image", True, f"{tag} {short(image.id)}, {image.size / 1e6:.0f} MB")


def _doctor_python_images(engine: Engine) -> DoctorItem:
    counts = []
    for role in ("env", "runner"):
        images = engine.images([f"grader.role={role}"])
        size = sum(image.size for image in images)
        counts.append(f"{len(images)} grader-{role} ({size / 1e6:.0f} MB)")
    # Sizes include the shared base layers once per image, so the sum overstates the disk used.
    return DoctorItem("cached images", True, ", ".join(counts))


def _doctor_service_images(engine: Engine) -> DoctorItem:
    """Service images are optional (only challenges that declare services need them): never a failure."""
    tags = sorted(tag for image in engine.images(["grader.role=service"])
                  for tag in image.tags)
    if tags:
        return DoctorItem("service images", True, ", ".join(tags))
    return DoctorItem("service images", True, "none yet: built on first use by a challenge that declares services "
                      "(or `grader sandbox bootstrap --offline --service postgres --service redis`)")


def _doctor_build_image(engine: Engine, python: str) -> DoctorItem:
    """Optional too: only a dependency with no wheel needs it, and it is built on first use."""
    tag = build_image_tag(python)
    if image_exists(engine, tag):
        return DoctorItem("build image", True, f"{tag} (builds packages that have no wheel)")
    return DoctorItem("build image", True, f"{tag} not built yet: built when a package without a wheel first needs "
                      "it (or `grader sandbox bootstrap --offline --builder`)")


def _doctor_debootstrap() -> DoctorItem:
    path = shutil.which("debootstrap")
    if path is None:
        return DoctorItem(
            "debootstrap",
            False,
            "not on PATH (only `grader sandbox bootstrap --offline` needs it)",
            "apt-get install debootstrap",
        )
    return DoctorItem("debootstrap", True, path)


def _doctor_root() -> DoctorItem:
    geteuid = getattr(os, "geteuid", None)
    uid = geteuid() if geteuid is not None else -1
    if uid == 0:
        return DoctorItem("root", True, "running as root")
    return DoctorItem(
        "root",
        False,
        f"running as uid {uid} (only `grader sandbox bootstrap --offline` needs root)",
        "run it as root",
    )


def _doctor_cache() -> DoctorItem:
    root = cache_root()
    total = 0
    for directory, _dirs, names in os.walk(root):
        for name in names:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(directory, name)).st_size
    return DoctorItem("cache", True, f"{root}: {total / 1e6:.1f} MB")

