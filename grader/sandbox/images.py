"""Docker images for gradings: the base image and the per-requirements environment images.

Three kinds of image, all built with the Docker SDK (never the docker CLI):

* `grader-base:py3.11`: one Python, a venv at /opt/venv and the unprivileged user `sandbox` (10001).
  It is built from `base.Dockerfile` either on top of `python:3.11-slim` (`build_base_image`, needs a
  registry) or on top of `grader-rootfs:bookworm`, a Debian root filesystem made by debootstrap and
  imported into the engine (`bootstrap_base_image`, the offline path).
* `grader-env:<key>` / `grader-runner:<key>`: the base plus one set of requirements, installed from wheels
  the host already downloaded, in a build that has no network (`ensure_python_image`). Built once per key
  and reused by every later grading with the same requirements.

The `docker` package is imported lazily so `doctor()` can report a missing SDK instead of failing on import.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from collections import deque
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal

from grader import __version__
from grader.filelocks import file_lock
from grader.paths import cache_root
from grader.sandbox.base import SandboxError
from grader.sandbox.services import KINDS as SERVICE_KINDS
from grader.sandbox.services import ServiceRequest
from grader.sandbox.services import image_tag as service_image_tag

if TYPE_CHECKING:
    from docker import DockerClient

Log = Callable[[str], None]
detail = logging.getLogger(__name__)  # `grader -v` shows these lines (build output, debootstrap)
Role = Literal["env", "runner"]

DEFAULT_PYTHON = "3.11"
BASE_REPOSITORY = "grader-base"
ROOTFS_REPOSITORY = "grader-rootfs"
BASE_DOCKERFILE = "base.Dockerfile"
ENV_DOCKERFILE = "env.Dockerfile"
SERVICE_DOCKERFILE = "service.Dockerfile"
SERVICE_ROOTFS_REPOSITORY = "grader-service-rootfs"
BUILD_REPOSITORY = "grader-build"
BUILD_ROOTFS_REPOSITORY = "grader-build-rootfs"
# What the build image adds to the base's packages: a C toolchain and the headers common extensions need.
BUILD_PACKAGES = ("python3-dev", "gcc", "g++", "make", "libc6-dev", "libffi-dev", "libssl-dev", "libpq-dev",
                  "zlib1g-dev", "pkg-config")
SERVICE_SUITE = "bookworm"  # Debian 12: PostgreSQL 15, Redis 7
# Bumped when service.Dockerfile changes: an image built from an older one is rebuilt on first use.
SERVICE_IMAGE_REVISION = "1"
SANDBOX_UID = 10001

# The Debian suite whose python3 is the requested version: the offline path has no other Python.
DEBIAN_SUITES: Mapping[str, str] = {"3.11": "bookworm", "3.13": "trixie"}
DEBOOTSTRAP_PACKAGES = ("python3", "python3-venv", "ca-certificates")
MIRROR_ENV = "GRADER_DEBIAN_MIRROR"

# An imported root filesystem has no image config at all; without a PATH the base Dockerfile's
# `ENV PATH=/opt/venv/bin:$PATH` would expand to a PATH that finds nothing but the venv.
ROOTFS_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# Image keys become tags and label values: keep them to what a Docker tag accepts.
_KEY_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_PYTHON_PATTERN = re.compile(r"^3\.\d{1,2}$")
_FROM_STEP = re.compile(r"^Step \d+/\d+ : FROM\b", re.IGNORECASE)
_TAIL_LINES = 25
_NON_ZERO = re.compile(r"returned a non-zero code: (\d+)")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # the classic builder colours a step's stderr red
# The classic builder's own lines between a step's output: image ids and container bookkeeping.
_BUILDER_CHATTER = re.compile(r"^\s*(---> |Running in |Removing intermediate container |Successfully )")
# "I: Unpacking the base system...", "I: Base system installed successfully.", but not the one line per
# package ("I: Unpacking libc6:amd64...") that debootstrap prints around them.
_DEBOOTSTRAP_PHASE = re.compile(
    r"^I: (Retrieving InRelease|.*\b(packages|system)\b.*(\.\.\.|successfully\.))$", re.IGNORECASE
)


@dataclass(frozen=True)
class ImageRef:
    """An image ready for gradings, and whether this call built it or found it."""

    tag: str
    id: str
    reused: bool
    reason: str


@dataclass(frozen=True)
class DoctorItem:
    """One line of `grader doctor`: what was checked, how it went, and how to fix it if it did not."""

    name: str
    ok: bool
    detail: str
    fix: str | None = None


# --- connecting -------------------------------------------------------------------------------------


def engine_address() -> str:
    """Where the SDK looks for the engine: `$DOCKER_HOST`, else the default local socket."""
    return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def connect(timeout: int = 60) -> DockerClient:
    """A client to a live engine, or a SandboxError that says how to get one."""
    try:
        import docker
        from docker.errors import DockerException
    except ImportError as exc:
        raise SandboxError("the Docker SDK is not installed: pip install 'docker>=7'") from exc
    problem = f"no Docker engine answers at {engine_address()}: start dockerd or use --sandbox local"
    try:
        client = docker.from_env(timeout=timeout)
    except DockerException as exc:  # docker 7 asks the engine for its API version right here
        raise SandboxError(problem) from exc
    try:
        client.ping()
    except Exception as exc:  # requests' connection errors are not DockerExceptions
        client.close()
        raise SandboxError(problem) from exc
    return client


# --- small queries ----------------------------------------------------------------------------------


def base_image_tag(python: str) -> str:
    """The base image's tag for one Python version: `grader-base:py3.11`."""
    _check_python(python)
    return f"{BASE_REPOSITORY}:py{python}"


def image_exists(client: DockerClient, tag: str) -> bool:
    """Whether the engine holds an image under `tag` (no pull is attempted)."""
    return _get_image(client, tag) is not None


def _get_image(client: DockerClient, tag: str) -> Any | None:
    from docker.errors import ImageNotFound

    try:
        return client.images.get(tag)
    except ImageNotFound:
        return None


def _check_python(python: str) -> None:
    if not _PYTHON_PATTERN.match(python):
        raise SandboxError(f"not a Python version: {python!r} (expected something like 3.11)")


# --- the base image ---------------------------------------------------------------------------------


def build_base_image(client: DockerClient, python: str, *, log: Log, refresh: bool = False) -> str:
    """Build `grader-base:pyX.Y` on top of `python:X.Y-slim` (the registry path); return its tag.

    The engine pulls `python:X.Y-slim` when it does not hold it yet; `refresh=True` asks it to pull a
    newer one even if it does (which needs the registry even when the image is there).
    """
    tag = base_image_tag(python)
    upstream = f"python:{python}-slim"
    log(f"building {tag} from {upstream}")
    replaced = _image_ids(client, (tag,))
    try:
        image_id = _build_base(client, python, base=upstream, pull=refresh, log=log)
    except _BuildFailed as failure:
        if failure.at_from:
            raise SandboxError(
                f"could not pull {upstream} (no registry access?): run `grader sandbox bootstrap --offline`"
                f"\n{failure.message}"
            ) from None
        raise SandboxError(failure.describe(f"could not build {tag} from {upstream}")) from None
    log(f"built {tag} ({_short(image_id)})")
    _drop_replaced(client, replaced, log)
    return tag


def bootstrap_base_image(
    client: DockerClient,
    python: str,
    *,
    log: Log,
    mirror: str | None = None,
    suite: str | None = None,
) -> str:
    """Build `grader-base:pyX.Y` without any registry (the offline path); return its tag.

    debootstrap makes a minimal Debian root filesystem whose own python3 is the requested version, the
    grader imports it into the engine as `grader-rootfs:<suite>` and builds the same base Dockerfile on
    top of it. Needs root and debootstrap on this host; the Debian mirror is debootstrap's default unless
    `mirror` or `$GRADER_DEBIAN_MIRROR` names another.
    """
    tag = base_image_tag(python)
    suite = suite or _suite_for(python)
    rootfs_tag = f"{ROOTFS_REPOSITORY}:{suite}"
    replaced = _image_ids(client, (tag, rootfs_tag))
    _debootstrap_image(client, suite, DEBOOTSTRAP_PACKAGES, rootfs_tag, mirror, log)
    _build_logged(tag, rootfs_tag, lambda: _build_base(client, python, base=rootfs_tag, pull=False, log=log), log)
    _drop_replaced(client, replaced, log)
    return tag


def _build_logged(tag: str, base: str, build: Callable[[], str], log: Log) -> str:
    """Run `build` (of `tag` on `base`) between two log lines; a failed build is one SandboxError."""
    log(f"building {tag} from {base}")
    try:
        image_id = build()
    except _BuildFailed as failure:
        raise SandboxError(failure.describe(f"could not build {tag} from {base}")) from None
    log(f"built {tag} ({_short(image_id)})")
    return image_id


def _debootstrap_image(
    client: DockerClient, suite: str, packages: Sequence[str], tag: str, mirror: str | None, log: Log
) -> None:
    """debootstrap a minimal Debian `suite` with `packages`, slim it and import it into the engine as `tag`."""
    _check_can_debootstrap()
    mirror = mirror or os.environ.get(MIRROR_ENV) or None
    workdir = Path(tempfile.mkdtemp(prefix="grader-bootstrap-"))
    try:
        rootfs = workdir / "rootfs"
        _debootstrap(suite, rootfs, packages, mirror, log)
        _slim_rootfs(rootfs, log)
        tarball = workdir / "rootfs.tar"
        _tar_rootfs(rootfs, tarball, log)
        _import_rootfs(client, tarball, tag, suite, log)
    finally:
        _remove_workdir(workdir, log)


def _build_base(client: DockerClient, python: str, *, base: str, pull: bool, log: Log, tag: str | None = None) -> str:
    """Build base.Dockerfile on `base` and tag it (the base image's tag unless `tag`); return the image id."""
    tag = tag or base_image_tag(python)
    with _build_context(_dockerfile(BASE_DOCKERFILE)) as context:
        return _run_build(
            client,
            context,
            tag=tag,
            buildargs={"BASE": base, "PYTHON": python, "VERSION": __version__},
            pull=pull,
            network_mode=None,  # the base Dockerfile downloads nothing, but a pull of BASE may be needed
            log=log,
        )


def _image_ids(client: DockerClient, tags: Iterable[str]) -> list[str]:
    """The ids the engine holds under these tags now (a rebuild may move the tags elsewhere)."""
    return [image.id for tag in tags if (image := _get_image(client, tag)) is not None]


def _drop_replaced(client: DockerClient, old_ids: Iterable[str], log: Log) -> None:
    """Delete images a rebuild replaced, so a re-bootstrap does not leave 150 MB behind each time.

    An image that kept a tag (the rebuild came out identical) stays. So does an old base that env images
    were built on: the engine refuses to delete it, and those images still work until they are pruned.
    """
    from docker.errors import APIError

    for old_id in old_ids:
        image = _get_image(client, old_id)
        if image is None or image.tags:
            continue
        with contextlib.suppress(APIError):
            client.images.remove(old_id, noprune=False)
            log(f"removed the replaced image {_short(old_id)}")


def _suite_for(python: str) -> str:
    _check_python(python)
    try:
        return DEBIAN_SUITES[python]
    except KeyError:
        supported = ", ".join(f"{version} ({suite})" for version, suite in DEBIAN_SUITES.items())
        raise SandboxError(
            f"the offline bootstrap has no Python {python}: it supports {supported} "
            "(the Python each Debian suite ships)"
        ) from None


def _check_can_debootstrap() -> None:
    geteuid = getattr(os, "geteuid", None)
    if shutil.which("debootstrap") is None or geteuid is None or geteuid() != 0:
        raise SandboxError(
            "the offline bootstrap needs debootstrap and root: "
            "install debootstrap (apt-get install debootstrap) and run as root"
        )


def _debootstrap(suite: str, target: Path, packages: Sequence[str], mirror: str | None, log: Log) -> None:
    """Run debootstrap (minbase + `packages`); log its phase lines, keep the rest for the error message."""
    command = [
        "debootstrap",
        "--variant=minbase",
        f"--include={','.join(packages)}",
        suite,
        str(target),
    ]
    if mirror:
        command.append(mirror)
    log(f"debootstrap {suite} into {target} (about a minute)")
    tail: deque[str] = deque(maxlen=_TAIL_LINES)
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace"
    ) as process:
        assert process.stdout is not None
        for raw in process.stdout:
            line = raw.rstrip()
            tail.append(line)
            if _is_phase_line(line):
                log(line)
            else:
                detail.debug("%s", line)
    if process.returncode != 0:
        # debootstrap's own log in the target usually names the failing package or download.
        own_log = target / "debootstrap" / "debootstrap.log"
        if own_log.is_file():
            tail.extend(own_log.read_text(errors="replace").splitlines()[-10:])
        raise SandboxError(
            f"debootstrap could not make a Debian {suite} root filesystem (exit {process.returncode})"
            + "".join(f"\n  {line}" for line in tail)
        )


def _is_phase_line(line: str) -> bool:
    """debootstrap's phase lines ("I: Unpacking required packages...") and problems, not per-package ones."""
    return line.startswith(("W:", "E:")) or bool(_DEBOOTSTRAP_PHASE.match(line))


def _slim_rootfs(rootfs: Path, log: Log) -> None:
    """Drop what a grading never reads: apt's package lists and caches, docs, man pages, translations.

    Copyright files stay (Debian's licences ask for them). The host's resolv.conf and hostname, which
    debootstrap copied, are emptied: the engine provides both to every container.
    """
    _empty_dir(rootfs / "var/lib/apt/lists", keep={"partial", "lock"})
    _empty_dir(rootfs / "var/cache/apt", keep={"archives"})
    _empty_dir(rootfs / "var/cache/apt/archives", keep={"partial", "lock"})
    for relative in ("usr/share/man", "usr/share/info", "var/log"):
        _empty_dir(rootfs / relative, keep=set())
    _empty_dir(rootfs / "usr/share/locale", keep={"locale.alias"})
    doc = rootfs / "usr/share/doc"
    if doc.is_dir():
        for package in doc.iterdir():
            _empty_dir(package, keep={"copyright"})
    for name in ("etc/resolv.conf", "etc/hostname"):
        path = rootfs / name
        if path.is_file() and not path.is_symlink():
            path.write_text("")
    log("removed apt lists, docs, man pages and translations from the root filesystem")


def _empty_dir(directory: Path, keep: set[str]) -> None:
    """Delete everything inside `directory` except the entries named in `keep` (apt wants its partial/)."""
    if not directory.is_dir() or directory.is_symlink():
        return
    for entry in directory.iterdir():
        if entry.name in keep:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def _tar_rootfs(rootfs: Path, tarball: Path, log: Log) -> None:
    """Write the root filesystem as a tar the engine can import.

    /dev, /proc, /sys, /run and /tmp keep only their directories: the engine mounts fresh ones into every
    container, and device nodes have no place in an image. Owners are kept by number only.
    """
    skip_children = ("dev", "proc", "sys", "run", "tmp")

    def keep(member: tarfile.TarInfo) -> tarfile.TarInfo | None:
        parts = [part for part in member.name.split("/") if part not in ("", ".")]
        if len(parts) > 1 and parts[0] in skip_children:
            return None
        if member.ischr() or member.isblk() or member.isfifo():
            return None
        member.uname = member.gname = ""
        return member

    with tarfile.open(tarball, "w", format=tarfile.PAX_FORMAT) as archive:
        archive.add(rootfs, arcname=".", recursive=True, filter=keep)
    log(f"packed the root filesystem ({tarball.stat().st_size / 1e6:.0f} MB)")


def _import_rootfs(client: DockerClient, tarball: Path, tag: str, suite: str, log: Log) -> None:
    """Import the tarball as an image; give it the config an image from a registry would have had."""
    repository, _, image_tag = tag.partition(":")
    changes = [
        f"ENV PATH={ROOTFS_PATH}",
        "ENV LANG=C.UTF-8",
        'CMD ["bash"]',
        f"LABEL grader.role=rootfs grader.suite={suite} grader.version={__version__}",
    ]
    # A path (not a file object) makes the SDK upload without a read timeout: the import takes a while.
    output = client.api.import_image(src=str(tarball), repository=repository, tag=image_tag, changes=changes)
    for line in str(output).splitlines():
        with contextlib.suppress(ValueError):
            message = json.loads(line)
            if isinstance(message, dict) and message.get("error"):
                raise SandboxError(f"the engine could not import the root filesystem: {message['error']}")
    if not image_exists(client, tag):
        raise SandboxError(f"the engine did not keep the imported root filesystem as {tag}: {output}")
    log(f"imported the root filesystem as {tag}")


def _remove_workdir(workdir: Path, log: Log) -> None:
    """Remove the bootstrap's temporary tree, whatever state debootstrap left it in.

    debootstrap mounts /proc (and more) inside the target while it configures packages; a run that failed
    half-way can leave those mounted, and deleting through a mounted /proc or /sys must never happen.
    """
    for mount_point in sorted(_mounts_under(workdir), key=len, reverse=True):
        subprocess.run(["umount", "--lazy", mount_point], check=False, capture_output=True)
    if _mounts_under(workdir):
        log(f"left {workdir} in place: something is still mounted inside it")
        return
    shutil.rmtree(workdir, ignore_errors=True)
    if workdir.exists():
        log(f"could not remove {workdir} entirely; remove it by hand")


def _mounts_under(directory: Path) -> list[str]:
    try:
        table = Path("/proc/self/mounts").read_text()
    except OSError:
        return []
    root = str(directory.resolve())
    found = []
    for line in table.splitlines():
        fields = line.split()
        if len(fields) < 2:
            continue
        # The mount table escapes blanks in paths as octal (\040).
        mount_point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[1])
        if mount_point == root or mount_point.startswith(root + "/"):
            found.append(mount_point)
    return found


# --- the build image (source archives into wheels) --------------------------------------------------


def build_image_tag(python: str) -> str:
    """The tag of the image that builds source archives: `grader-build:py3.11`."""
    _check_python(python)
    return f"{BUILD_REPOSITORY}:py{python}"


def ensure_build_image(client: DockerClient, python: str, *, log: Log) -> str:
    """`grader-build:pyX.Y`, built on first use: the base image's layout on a Python with headers and a C
    compiler, as a developer's laptop has (`python:X.Y` with a registry, Debian's packages without one)."""
    tag = build_image_tag(python)
    if image_exists(client, tag):
        return tag
    with _key_lock(f"build-image-{python}", log):
        if image_exists(client, tag):
            return tag
        log(f"build image {tag} is missing: building it once (only packages without a wheel need it)")
        upstream = f"python:{python}"
        try:
            _build_logged(tag, upstream, lambda: _build_base(client, python, base=upstream, pull=False, log=log,
                                                             tag=tag), log)
            return tag
        except SandboxError as registry_error:
            log(f"registry build failed ({registry_error.args[0].splitlines()[0]}); trying the offline bootstrap")
        return bootstrap_build_image(client, python, log=log)


def bootstrap_build_image(client: DockerClient, python: str, *, log: Log, mirror: str | None = None) -> str:
    """`grader-build:pyX.Y` with no registry: a debootstrapped Debian with its compiler and headers."""
    tag = build_image_tag(python)
    suite = _suite_for(python)
    rootfs_tag = f"{BUILD_ROOTFS_REPOSITORY}:{suite}"
    if not image_exists(client, rootfs_tag):
        _debootstrap_image(client, suite, (*DEBOOTSTRAP_PACKAGES, *BUILD_PACKAGES), rootfs_tag, mirror, log)
    _build_logged(tag, rootfs_tag, lambda: _build_base(client, python, base=rootfs_tag, pull=False, log=log,
                                                       tag=tag), log)
    return tag


# --- service images ---------------------------------------------------------------------------------


def ensure_service_image(client: DockerClient, request: ServiceRequest, *, log: Log) -> str:
    """The image for one service (`grader-service-postgres:15`), built on first use; return its tag.

    With a registry it is the official image plus the sandbox user; without one, the offline path builds
    it from Debian's packages (which carry one major version of each service).
    """
    tag = service_image_tag(request)
    if service_image_current(client, request):
        return tag
    with _key_lock(f"service-{request.kind}-{request.version}", log):
        if service_image_current(client, request):
            return tag
        why = "was built by another grader version" if image_exists(client, tag) else "is missing"
        log(f"service image {tag} {why}: building it once (later gradings reuse it)")
        try:
            return build_service_image(client, request, log=log)
        except SandboxError as registry_error:
            log(f"registry build failed ({registry_error.args[0].splitlines()[0]}); trying the offline bootstrap")
        try:
            return bootstrap_service_image(client, request, log=log)
        except SandboxError as offline_error:
            raise SandboxError(
                f"the {request.kind} {request.version} service image is missing and could not be built "
                f"({offline_error}): run `grader sandbox build --service {request.kind}` (with a registry) or "
                f"`grader sandbox bootstrap --offline --service {request.kind}`"
            ) from None


def build_service_image(client: DockerClient, request: ServiceRequest, *, log: Log, refresh: bool = False) -> str:
    """`grader-service-<kind>:<version>` on top of the official image (the registry path)."""
    upstream = SERVICE_KINDS[request.kind].official_image.format(version=request.version)
    tag = service_image_tag(request)
    log(f"building {tag} from {upstream}")
    try:
        image_id = _build_service(client, request, base=upstream, pull=refresh, log=log)
    except _BuildFailed as failure:
        if failure.at_from:
            raise SandboxError(f"could not pull {upstream} (no registry access?)\n{failure.message}") from None
        raise SandboxError(failure.describe(f"could not build {tag} from {upstream}")) from None
    log(f"built {tag} ({_short(image_id)})")
    return tag


def bootstrap_service_image(
    client: DockerClient, request: ServiceRequest, *, log: Log, mirror: str | None = None,
    suite: str = SERVICE_SUITE,
) -> str:
    """`grader-service-<kind>:<version>` from Debian's packages, with no registry (the offline path).

    One debootstrapped root filesystem (`grader-service-rootfs:<suite>`) carries every kind's packages, so
    the second service built offline reuses it. Debian has one major version of each service: another
    version is refused here, with the way out.
    """
    check_offline_service(request, suite)
    rootfs_tag = f"{SERVICE_ROOTFS_REPOSITORY}:{suite}"
    if not image_exists(client, rootfs_tag):
        packages = [package for kind in SERVICE_KINDS.values() for package in kind.debian_packages]
        _debootstrap_image(client, suite, packages, rootfs_tag, mirror, log)
    tag = service_image_tag(request)
    _build_logged(tag, rootfs_tag, lambda: _build_service(client, request, base=rootfs_tag, pull=False, log=log), log)
    return tag


def service_image_current(client: DockerClient, request: ServiceRequest) -> bool:
    """Whether the service image exists and was built from this grader's service.Dockerfile."""
    image = _get_image(client, service_image_tag(request))
    return image is not None and (image.labels or {}).get("grader.service-revision") == SERVICE_IMAGE_REVISION


def check_offline_service(request: ServiceRequest, suite: str = SERVICE_SUITE) -> None:
    """Refuse a version Debian's packages do not have (the offline path has one major version of each)."""
    info = SERVICE_KINDS[request.kind]
    if request.version.split(".")[0] != info.debian_version:
        raise SandboxError(
            f"the offline path has {request.kind} {info.debian_version} only (Debian {suite}'s package), "
            f"not {request.version}: declare version {info.debian_version!r} or build with a registry"
        )


def _build_service(client: DockerClient, request: ServiceRequest, *, base: str, pull: bool, log: Log) -> str:
    """Build service.Dockerfile on `base`; the image it replaces (an older revision) is deleted."""
    replaced = _image_ids(client, (service_image_tag(request),))
    with _build_context(_dockerfile(SERVICE_DOCKERFILE)) as context:
        image_id = _run_build(
            client, context, tag=service_image_tag(request),
            buildargs={"BASE": base, "KIND": request.kind, "SERVICE_VERSION": request.version,
                       "VERSION": __version__, "REVISION": SERVICE_IMAGE_REVISION},
            pull=pull, network_mode=None, log=log,
        )
    _drop_replaced(client, replaced, log)
    return image_id


# --- environment images -----------------------------------------------------------------------------


def ensure_python_image(
    client: DockerClient,
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
    reused = _reusable(client, tag, key)
    if reused is not None:
        return reused
    with _key_lock(key, log):
        # Another grading may have built it while this one waited for the lock.
        reused = _reusable(client, tag, key)
        if reused is not None:
            return reused
        log(f"building {tag} from {base} ({len(requirements)} requirements)")
        image_id = _build_python_image(
            client,
            base=base,
            role=role,
            key=key,
            tag=tag,
            wheels_dir=wheels_dir,
            requirements=requirements,
            log=log,
        )
    log(f"built {tag} ({_short(image_id)})")
    return ImageRef(tag=tag, id=image_id, reused=False, reason=f"built image {tag}: new requirements")


def _reusable(client: DockerClient, tag: str, key: str) -> ImageRef | None:
    """The existing image under `tag` if it was built for this very key (tags hold only 20 characters)."""
    image = _get_image(client, tag)
    if image is None or (image.labels or {}).get("grader.key") != key:
        return None
    return ImageRef(tag=tag, id=image.id, reused=True, reason=f"reused image {tag}: same requirements")


def _check_requirements(requirements: Sequence[str]) -> None:
    """One requirement per line and no pip options: a requirements file could otherwise redirect pip."""
    for requirement in requirements:
        if not requirement.strip() or "\n" in requirement or "\r" in requirement:
            raise SandboxError(f"invalid requirement {requirement!r}: one non-empty line each")
        if requirement.lstrip().startswith("-"):
            raise SandboxError(f"invalid requirement {requirement!r}: pip options are not allowed")


def _key_lock(key: str, log: Log) -> contextlib.AbstractContextManager[None]:
    """An exclusive lock per image key, shared by every grader process on this host."""
    return file_lock(f"image-{key}",
                     on_wait=lambda: log(f"waiting for another grading that is building the image for {key[:20]}"))


def _build_python_image(
    client: DockerClient,
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
        with _build_context(_dockerfile(ENV_DOCKERFILE), files, dirs=("wheels",)) as context:
            return _run_build(
                client,
                context,
                tag=tag,
                buildargs={"BASE": base, "ROLE": role, "KEY": key, "VERSION": __version__},
                pull=False,
                network_mode="none",  # the host downloaded every wheel; nothing is fetched in here
                log=log,
            )
    except _BuildFailed as failure:
        if failure.at_from:
            raise SandboxError(
                f"could not build {tag}: the base image {base} is missing; run `grader sandbox bootstrap`"
                f"\n{failure.message}"
            ) from None
        raise SandboxError(
            failure.describe(f"could not build {tag}: pip could not install the requirements from the wheels")
        ) from None
    finally:
        _remove_install_stage(client, key)


def _remove_install_stage(client: DockerClient, key: str) -> None:
    """Delete the install stage's leftover images: they hold the wheels and nothing needs them any more."""
    from docker.errors import APIError

    leftovers = client.images.list(
        filters={"dangling": True, "label": ["grader.stage=install", f"grader.build-key={key}"]}
    )
    for image in leftovers:
        with contextlib.suppress(APIError):  # already gone, or a concurrent build of this key holds it
            client.images.remove(image.id, noprune=False)


# --- building ---------------------------------------------------------------------------------------


class _BuildFailed(Exception):
    """A build ended in an error: the engine's message, the last output lines, and the step it died in."""

    def __init__(self, message: str, tail: Iterable[str], step: str) -> None:
        super().__init__(message)
        self.message = message.strip()
        self.tail = list(tail)
        self.step = step

    @property
    def at_from(self) -> bool:
        """Whether the build died getting its FROM image (a pull, or a missing local image)."""
        return bool(_FROM_STEP.match(self.step))

    def describe(self, sentence: str) -> str:
        """One sentence, then what the failing step printed last (where pip says what it could not find).

        The classic builder's error repeats the whole RUN command; its exit code is all the sentence needs.
        """
        exit_code = _NON_ZERO.search(self.message)
        reason = f"the step exited with code {exit_code.group(1)}" if exit_code else self.message
        lines = [f"{sentence} ({reason})."]
        if self.tail:
            where = self.step.split(" : ")[0].lower() if self.step else "the build"  # "step 8/14"
            lines.append(f"last output of {where}:")
            lines.extend(f"  {line}" for line in self.tail)
        return "\n".join(lines)


def _dockerfile(name: str) -> bytes:
    """A Dockerfile template shipped inside the grader package."""
    return (resources.files("grader.sandbox") / name).read_bytes()


@contextlib.contextmanager
def _build_context(
    dockerfile: bytes, files: Mapping[str, bytes | Path] | None = None, dirs: Sequence[str] = ()
) -> Iterator[IO[bytes]]:
    """A build context as a tar in a temporary file (wheels can be large), removed after the build."""
    with tempfile.TemporaryFile(prefix="grader-context-") as handle:
        with tarfile.open(fileobj=handle, mode="w") as archive:
            _add_bytes(archive, "Dockerfile", dockerfile)
            for directory in dirs:  # present even when empty, so COPY always finds it
                info = tarfile.TarInfo(directory)
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                archive.addfile(info)
            for name, content in (files or {}).items():
                if isinstance(content, Path):
                    archive.add(content, arcname=name, recursive=False)
                else:
                    _add_bytes(archive, name, content)
        handle.seek(0)
        yield handle


def _add_bytes(archive: tarfile.TarFile, name: str, content: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(content), 0o644
    archive.addfile(info, io.BytesIO(content))


def _run_build(
    client: DockerClient,
    context: IO[bytes],
    *,
    tag: str,
    buildargs: Mapping[str, str],
    pull: bool,
    network_mode: str | None,
    log: Log,
) -> str:
    """Run one build, logging its steps; return the new image's id or raise _BuildFailed."""
    from docker.errors import APIError

    tail: deque[str] = deque(maxlen=_TAIL_LINES)
    step = ""
    try:
        chunks = client.api.build(
            fileobj=context,
            custom_context=True,
            tag=tag,
            buildargs=dict(buildargs),
            pull=pull,
            network_mode=network_mode,
            rm=True,
            forcerm=True,  # remove intermediate containers even when a step fails
            decode=True,
            timeout=None,  # a silent pip install of a big wheel may take minutes
        )
        for chunk in chunks:
            for raw in str(chunk.get("stream", "")).splitlines():
                line = _ANSI.sub("", raw).rstrip()
                if line.startswith("Step "):
                    step = line
                    tail.clear()  # keep only what the current step printed
                    log(line)
                elif line and not _BUILDER_CHATTER.match(line):
                    tail.append(line)
                    detail.debug("%s", line)
            if chunk.get("error"):
                raise _BuildFailed(str(chunk["error"]), tail, step)
    except APIError as exc:  # the engine refused the build outright (bad context, unknown option, ...)
        raise _BuildFailed(str(exc.explanation or exc), tail, step) from exc
    image = _get_image(client, tag)
    if image is None:
        raise _BuildFailed(f"the build ended but no image is tagged {tag}", tail, step)
    return str(image.id)


def _short(image_id: str) -> str:
    return image_id.removeprefix("sha256:")[:12]


# --- cleaning up ------------------------------------------------------------------------------------


def remove_images(client: DockerClient, roles: Iterable[Role], *, keys: Collection[str] | None = None) -> int:
    """Delete the grader's images of these roles (and install-stage leftovers); return how many went.

    `keys` limits it to the images built for those keys (cache pruning removes the least used ones).
    An image a container still uses is skipped, not forced: a grading may be running on it.
    """
    from docker.errors import APIError

    removed = 0
    wanted: list[tuple[dict[str, Any], str]] = [({"label": f"grader.role={role}"}, "grader.key") for role in roles]
    wanted.append(({"label": "grader.stage=install", "dangling": True}, "grader.build-key"))
    for filters, key_label in wanted:
        for image in client.images.list(filters=filters):
            if keys is not None and (image.labels or {}).get(key_label) not in keys:
                continue
            try:
                # Untag name by name: removing an image that has several tags by id needs force.
                for tag in image.tags[:-1]:
                    client.images.remove(tag, noprune=False)
                client.images.remove(image.tags[-1] if image.tags else image.id, noprune=False)
            except APIError:
                continue
            removed += 1
    return removed


# --- doctor -----------------------------------------------------------------------------------------


def doctor(client: DockerClient | None = None) -> list[DoctorItem]:
    """Check everything the Docker sandbox needs; connect on its own when no client is given."""
    items = [_doctor_sdk()]
    if items[0].ok and client is None:
        with contextlib.suppress(SandboxError):
            client = connect(timeout=10)
    items.append(_doctor_engine(client))
    if client is not None and items[-1].ok:
        items.append(_doctor_base_image(client, DEFAULT_PYTHON))
        items.append(_doctor_python_images(client))
        items.append(_doctor_service_images(client))
        items.append(_doctor_build_image(client, DEFAULT_PYTHON))
    items.append(_doctor_debootstrap())
    items.append(_doctor_root())
    items.append(_doctor_cache())
    return items


def _doctor_sdk() -> DoctorItem:
    try:
        import docker
    except ImportError:
        return DoctorItem(
            "docker sdk", False, "the `docker` Python package is not importable", "pip install 'docker>=7'"
        )
    return DoctorItem("docker sdk", True, f"docker {docker.__version__}")


def _doctor_engine(client: DockerClient | None) -> DoctorItem:
    fix = "start dockerd (or set DOCKER_HOST), or grade with --sandbox local"
    if client is None:
        return DoctorItem("docker engine", False, f"no engine answers at {engine_address()}", fix)
    try:
        version = client.version()
    except Exception as exc:  # any transport error means the same thing here
        return DoctorItem("docker engine", False, f"the engine at {engine_address()} failed: {exc}", fix)
    return DoctorItem(
        "docker engine", True, f"Docker {version.get('Version', '?')} (API {version.get('ApiVersion', '?')})"
    )


def _doctor_base_image(client: DockerClient, python: str) -> DoctorItem:
    tag = base_image_tag(python)
    image = _get_image(client, tag)
    if image is None:
        return DoctorItem(
            "base image",
            False,
            f"{tag} is missing",
            "run `grader sandbox bootstrap` (or `grader sandbox bootstrap --offline` without a registry)",
        )
    size = int(image.attrs.get("Size", 0))
    return DoctorItem("base image", True, f"{tag} {_short(image.id)}, {size / 1e6:.0f} MB")


def _doctor_python_images(client: DockerClient) -> DoctorItem:
    counts = []
    for role in ("env", "runner"):
        images = client.images.list(filters={"label": f"grader.role={role}"})
        size = sum(int(image.attrs.get("Size", 0)) for image in images)
        counts.append(f"{len(images)} grader-{role} ({size / 1e6:.0f} MB)")
    # Sizes include the shared base layers once per image, so the sum overstates the disk used.
    return DoctorItem("cached images", True, ", ".join(counts))


def _doctor_service_images(client: DockerClient) -> DoctorItem:
    """Service images are optional (only challenges that declare services need them): never a failure."""
    tags = sorted(tag for image in client.images.list(filters={"label": "grader.role=service"})
                  for tag in image.tags)
    if tags:
        return DoctorItem("service images", True, ", ".join(tags))
    return DoctorItem("service images", True, "none yet: built on first use by a challenge that declares services "
                      "(or `grader sandbox bootstrap --offline --service postgres --service redis`)")


def _doctor_build_image(client: DockerClient, python: str) -> DoctorItem:
    """Optional too: only a dependency with no wheel needs it, and it is built on first use."""
    tag = build_image_tag(python)
    if image_exists(client, tag):
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
