"""The base image (`grader-base:py3.11`) and the build image (`grader-build:py3.11`).

* `grader-base:pyX.Y`: one Python, a venv at /opt/venv and the unprivileged user `sandbox` (10001). It is built
  from `base.Dockerfile` either on top of `python:X.Y-slim` (`build_base_image`, needs a registry) or on top of
  `grader-rootfs:<suite>`, a Debian root filesystem made by debootstrap (`bootstrap_base_image`, offline).
* `grader-build:pyX.Y`: the same layout on a Python with headers and a C compiler, for source archives that
  have no wheel (`grader.sandbox.builder`); built on first use.
"""

from __future__ import annotations

from grader import __version__
from grader.engine import Engine
from grader.errors import SandboxError
from grader.sandbox.images.bootstrap import DEBOOTSTRAP_PACKAGES, debootstrap_image, suite_for
from grader.sandbox.images.building import (
    BuildFailed,
    Log,
    build_context,
    build_logged,
    check_python,
    dockerfile,
    drop_replaced,
    image_exists,
    image_ids,
    key_lock,
    run_build,
    short,
)

DEFAULT_PYTHON = "3.11"
BASE_REPOSITORY = "grader-base"
ROOTFS_REPOSITORY = "grader-rootfs"
BASE_DOCKERFILE = "base.Dockerfile"
BUILD_REPOSITORY = "grader-build"
BUILD_ROOTFS_REPOSITORY = "grader-build-rootfs"
# What the build image adds to the base's packages: a C toolchain and the headers common extensions need.
BUILD_PACKAGES = ("python3-dev", "gcc", "g++", "make", "libc6-dev", "libffi-dev", "libssl-dev", "libpq-dev",
                  "zlib1g-dev", "pkg-config")


def base_image_tag(python: str) -> str:
    """The base image's tag for one Python version: `grader-base:py3.11`."""
    check_python(python)
    return f"{BASE_REPOSITORY}:py{python}"


def build_base_image(engine: Engine, python: str, *, log: Log, refresh: bool = False) -> str:
    """Build `grader-base:pyX.Y` on top of `python:X.Y-slim` (the registry path); return its tag.

    The engine pulls `python:X.Y-slim` when it does not hold it yet; `refresh=True` asks it to pull a
    newer one even if it does (which needs the registry even when the image is there).
    """
    tag = base_image_tag(python)
    upstream = f"python:{python}-slim"
    log(f"building {tag} from {upstream}")
    replaced = image_ids(engine, (tag,))
    try:
        image_id = _build_base(engine, python, base=upstream, pull=refresh, log=log)
    except BuildFailed as failure:
        if failure.at_from:
            raise SandboxError(
                f"could not pull {upstream} (no registry access?): run `grader sandbox bootstrap --offline`"
                f"\n{failure.message}"
            ) from None
        raise SandboxError(failure.describe(f"could not build {tag} from {upstream}")) from None
    log(f"built {tag} ({short(image_id)})")
    drop_replaced(engine, replaced, log)
    return tag


def bootstrap_base_image(
    engine: Engine,
    python: str,
    *,
    log: Log,
    mirror: str | None = None,
    suite: str | None = None,
    tag: str | None = None,
    rootfs_tag: str | None = None,
) -> str:
    """Build `grader-base:pyX.Y` without any registry (the offline path); return its tag.

    debootstrap makes a minimal Debian root filesystem whose own python3 is the requested version, the
    grader imports it into the engine as `grader-rootfs:<suite>` and builds the same base Dockerfile on
    top of it. Needs root and debootstrap on this host; the Debian mirror is debootstrap's default unless
    `mirror` or `$GRADER_DEBIAN_MIRROR` names another. `tag` and `rootfs_tag` name other images instead
    (a test proving the path without replacing the images other gradings on the engine use).
    """
    tag = tag or base_image_tag(python)
    suite = suite or suite_for(python)
    rootfs_tag = rootfs_tag or f"{ROOTFS_REPOSITORY}:{suite}"
    replaced = image_ids(engine, (tag, rootfs_tag))
    debootstrap_image(engine, suite, DEBOOTSTRAP_PACKAGES, rootfs_tag, mirror, log)
    build_logged(tag, rootfs_tag,
                 lambda: _build_base(engine, python, base=rootfs_tag, pull=False, log=log, tag=tag), log)
    drop_replaced(engine, replaced, log)
    return tag


def _build_base(engine: Engine, python: str, *, base: str, pull: bool, log: Log, tag: str | None = None) -> str:
    """Build base.Dockerfile on `base` and tag it (the base image's tag unless `tag`); return the image id."""
    tag = tag or base_image_tag(python)
    with build_context(dockerfile(BASE_DOCKERFILE)) as context:
        return run_build(
            engine,
            context,
            tag=tag,
            buildargs={"BASE": base, "PYTHON": python, "VERSION": __version__},
            pull=pull,
            network_mode=None,  # the base Dockerfile downloads nothing, but a pull of BASE may be needed
            log=log,
        )


def build_image_tag(python: str) -> str:
    """The tag of the image that builds source archives: `grader-build:py3.11`."""
    check_python(python)
    return f"{BUILD_REPOSITORY}:py{python}"


def ensure_build_image(engine: Engine, python: str, *, log: Log) -> str:
    """`grader-build:pyX.Y`, built on first use: the base image's layout on a Python with headers and a C
    compiler, as a developer's laptop has (`python:X.Y` with a registry, Debian's packages without one)."""
    tag = build_image_tag(python)
    if image_exists(engine, tag):
        return tag
    with key_lock(f"build-image-{python}", log):
        if image_exists(engine, tag):
            return tag
        log(f"build image {tag} is missing: building it once (only packages without a wheel need it)")
        upstream = f"python:{python}"
        try:
            build_logged(tag, upstream, lambda: _build_base(engine, python, base=upstream, pull=False, log=log,
                                                            tag=tag), log)
            return tag
        except SandboxError as registry_error:
            log(f"registry build failed ({registry_error.args[0].splitlines()[0]}); trying the offline bootstrap")
        return bootstrap_build_image(engine, python, log=log)


def bootstrap_build_image(engine: Engine, python: str, *, log: Log, mirror: str | None = None) -> str:
    """`grader-build:pyX.Y` with no registry: a debootstrapped Debian with its compiler and headers."""
    tag = build_image_tag(python)
    suite = suite_for(python)
    rootfs_tag = f"{BUILD_ROOTFS_REPOSITORY}:{suite}"
    if not image_exists(engine, rootfs_tag):
        debootstrap_image(engine, suite, (*DEBOOTSTRAP_PACKAGES, *BUILD_PACKAGES), rootfs_tag, mirror, log)
    build_logged(tag, rootfs_tag, lambda: _build_base(engine, python, base=rootfs_tag, pull=False, log=log,
                                                      tag=tag), log)
    return tag

