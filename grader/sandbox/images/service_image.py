"""Service images (`grader-service-postgres:15`, `grader-service-redis:7`), built on first use.

With a registry a service image is the official image plus the sandbox user (`build_service_image`); without
one it is built from Debian's packages on a debootstrapped root filesystem (`bootstrap_service_image`), which
carry one major version of each service.
"""

from __future__ import annotations

from grader import __version__
from grader.engine import Engine
from grader.errors import SandboxError
from grader.sandbox.images.bootstrap import debootstrap_image
from grader.sandbox.images.building import (
    BuildFailed,
    Log,
    build_context,
    build_logged,
    dockerfile,
    drop_replaced,
    image_exists,
    image_ids,
    key_lock,
    run_build,
    short,
)
from grader.sandbox.services import KINDS as SERVICE_KINDS
from grader.sandbox.services import ServiceRequest
from grader.sandbox.services import image_tag as service_image_tag

SERVICE_DOCKERFILE = "service.Dockerfile"
SERVICE_ROOTFS_REPOSITORY = "grader-service-rootfs"
SERVICE_SUITE = "bookworm"  # Debian 12: PostgreSQL 15, Redis 7
# Bumped when service.Dockerfile changes: an image built from an older one is rebuilt on first use.
SERVICE_IMAGE_REVISION = "1"


def ensure_service_image(engine: Engine, request: ServiceRequest, *, log: Log) -> str:
    """The image for one service (`grader-service-postgres:15`), built on first use; return its tag.

    With a registry it is the official image plus the sandbox user; without one, the offline path builds
    it from Debian's packages (which carry one major version of each service).
    """
    tag = service_image_tag(request)
    if service_image_current(engine, request):
        return tag
    with key_lock(f"service-{request.kind}-{request.version}", log):
        if service_image_current(engine, request):
            return tag
        why = "was built by another grader version" if image_exists(engine, tag) else "is missing"
        log(f"service image {tag} {why}: building it once (later gradings reuse it)")
        try:
            return build_service_image(engine, request, log=log)
        except SandboxError as registry_error:
            log(f"registry build failed ({registry_error.args[0].splitlines()[0]}); trying the offline bootstrap")
        try:
            return bootstrap_service_image(engine, request, log=log)
        except SandboxError as offline_error:
            raise SandboxError(
                f"the {request.kind} {request.version} service image is missing and could not be built "
                f"({offline_error}): run `grader sandbox build --service {request.kind}` (with a registry) or "
                f"`grader sandbox bootstrap --offline --service {request.kind}`"
            ) from None


def build_service_image(engine: Engine, request: ServiceRequest, *, log: Log, refresh: bool = False) -> str:
    """`grader-service-<kind>:<version>` on top of the official image (the registry path)."""
    upstream = SERVICE_KINDS[request.kind].official_image.format(version=request.version)
    tag = service_image_tag(request)
    log(f"building {tag} from {upstream}")
    try:
        image_id = _build_service(engine, request, base=upstream, pull=refresh, log=log)
    except BuildFailed as failure:
        if failure.at_from:
            raise SandboxError(f"could not pull {upstream} (no registry access?)\n{failure.message}") from None
        raise SandboxError(failure.describe(f"could not build {tag} from {upstream}")) from None
    log(f"built {tag} ({short(image_id)})")
    return tag


def bootstrap_service_image(
    engine: Engine, request: ServiceRequest, *, log: Log, mirror: str | None = None,
    suite: str = SERVICE_SUITE,
) -> str:
    """`grader-service-<kind>:<version>` from Debian's packages, with no registry (the offline path).

    One debootstrapped root filesystem (`grader-service-rootfs:<suite>`) carries every kind's packages, so
    the second service built offline reuses it. Debian has one major version of each service: another
    version is refused here, with the way out.
    """
    check_offline_service(request, suite)
    rootfs_tag = f"{SERVICE_ROOTFS_REPOSITORY}:{suite}"
    if not image_exists(engine, rootfs_tag):
        packages = [package for kind in SERVICE_KINDS.values() for package in kind.debian_packages]
        debootstrap_image(engine, suite, packages, rootfs_tag, mirror, log)
    tag = service_image_tag(request)
    build_logged(tag, rootfs_tag, lambda: _build_service(engine, request, base=rootfs_tag, pull=False, log=log), log)
    return tag


def service_image_current(engine: Engine, request: ServiceRequest) -> bool:
    """Whether the service image exists and was built from this grader's service.Dockerfile."""
    image = engine.image(service_image_tag(request))
    return image is not None and (image.labels or {}).get("grader.service-revision") == SERVICE_IMAGE_REVISION


def check_offline_service(request: ServiceRequest, suite: str = SERVICE_SUITE) -> None:
    """Refuse a version Debian's packages do not have (the offline path has one major version of each)."""
    info = SERVICE_KINDS[request.kind]
    if request.version.split(".")[0] != info.debian_version:
        raise SandboxError(
            f"the offline path has {request.kind} {info.debian_version} only (Debian {suite}'s package), "
            f"not {request.version}: declare version {info.debian_version!r} or build with a registry"
        )


def _build_service(engine: Engine, request: ServiceRequest, *, base: str, pull: bool, log: Log) -> str:
    """Build service.Dockerfile on `base`; the image it replaces (an older revision) is deleted."""
    replaced = image_ids(engine, (service_image_tag(request),))
    with build_context(dockerfile(SERVICE_DOCKERFILE)) as context:
        image_id = run_build(
            engine, context, tag=service_image_tag(request),
            buildargs={"BASE": base, "KIND": request.kind, "SERVICE_VERSION": request.version,
                       "VERSION": __version__, "REVISION": SERVICE_IMAGE_REVISION},
            pull=pull, network_mode=None, log=log,
        )
    drop_replaced(engine, replaced, log)
    return image_id

