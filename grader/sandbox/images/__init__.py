"""Docker images for gradings, built through the engine gateway (`grader.engine`), never the docker CLI.

* `grader-base:py3.11` and `grader-build:py3.11` (`base_image`): one Python, a venv at /opt/venv and the
  unprivileged user `sandbox` (10001); the build image adds a C compiler and headers.
* `grader-env:<key>` / `grader-runner:<key>` (`environment`): the base plus one set of requirements, installed
  from wheels the host already downloaded, in a build that has no network. Built once per key and reused.
* `grader-service-<kind>:<version>` (`service_image`): PostgreSQL and Redis for challenges that declare them.

Each is built from a registry's image where one answers, else offline on a Debian root filesystem made by
debootstrap (`bootstrap`). `building` runs the builds, `doctor` says what is missing, `usage` reports and
prunes the images for the store. This package's public names are re-exported here.
"""

from __future__ import annotations

from grader.sandbox.images.base_image import (
    DEFAULT_PYTHON,
    base_image_tag,
    bootstrap_base_image,
    bootstrap_build_image,
    build_base_image,
    build_image_tag,
    ensure_build_image,
)
from grader.sandbox.images.building import image_exists
from grader.sandbox.images.doctor import DoctorItem, doctor
from grader.sandbox.images.environment import ImageRef, ensure_python_image, remove_images
from grader.sandbox.images.service_image import (
    bootstrap_service_image,
    build_service_image,
    check_offline_service,
    ensure_service_image,
    service_image_current,
)
from grader.sandbox.images.usage import EngineImages

__all__ = [
    "DEFAULT_PYTHON",
    "DoctorItem",
    "EngineImages",
    "ImageRef",
    "base_image_tag",
    "bootstrap_base_image",
    "bootstrap_build_image",
    "bootstrap_service_image",
    "build_base_image",
    "build_image_tag",
    "build_service_image",
    "check_offline_service",
    "doctor",
    "ensure_build_image",
    "ensure_python_image",
    "ensure_service_image",
    "image_exists",
    "remove_images",
    "service_image_current",
]
