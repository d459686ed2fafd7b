"""The offline path: a Debian root filesystem made by debootstrap and imported into the engine.

Without a registry there is no `python:3.11-slim` to build on. debootstrap makes a minimal Debian root
filesystem whose own python3 is the requested version (or, for services and the build image, whose packages
are PostgreSQL, Redis or a C toolchain), the grader slims it, packs it and imports it into the engine as an
image (`grader-rootfs:<suite>`, ...), which the usual Dockerfiles then build on. Needs root and debootstrap.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tarfile
import tempfile
from collections import deque
from collections.abc import Mapping, Sequence
from pathlib import Path

from grader import __version__
from grader.engine import Engine
from grader.errors import SandboxError
from grader.processes import TimedOut, stream_lines
from grader.processes import run as run_process
from grader.sandbox.images.building import TAIL_LINES, Log, check_python, detail, image_exists

# The Debian suite whose python3 is the requested version: the offline path has no other Python.
DEBIAN_SUITES: Mapping[str, str] = {"3.11": "bookworm", "3.13": "trixie"}
DEBOOTSTRAP_PACKAGES = ("python3", "python3-venv", "ca-certificates")
MIRROR_ENV = "GRADER_DEBIAN_MIRROR"
UMOUNT_TIMEOUT_S = 60

# An imported root filesystem has no image config at all; without a PATH the base Dockerfile's
# `ENV PATH=/opt/venv/bin:$PATH` would expand to a PATH that finds nothing but the venv.
ROOTFS_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# "I: Unpacking the base system...", "I: Base system installed successfully.", but not the one line per
# package ("I: Unpacking libc6:amd64...") that debootstrap prints around them.
_DEBOOTSTRAP_PHASE = re.compile(
    r"^I: (Retrieving InRelease|.*\b(packages|system)\b.*(\.\.\.|successfully\.))$", re.IGNORECASE
)


def suite_for(python: str) -> str:
    """The Debian suite whose python3 is `python` (the offline path has no other Python)."""
    check_python(python)
    try:
        return DEBIAN_SUITES[python]
    except KeyError:
        supported = ", ".join(f"{version} ({suite})" for version, suite in DEBIAN_SUITES.items())
        raise SandboxError(
            f"the offline bootstrap has no Python {python}: it supports {supported} "
            "(the Python each Debian suite ships)"
        ) from None


def check_can_debootstrap() -> None:
    """Refuse, with the way out, where debootstrap is missing or this process is not root."""
    geteuid = getattr(os, "geteuid", None)
    if shutil.which("debootstrap") is None or geteuid is None or geteuid() != 0:
        raise SandboxError(
            "the offline bootstrap needs debootstrap and root: "
            "install debootstrap (apt-get install debootstrap) and run as root"
        )


def debootstrap_image(
    engine: Engine, suite: str, packages: Sequence[str], tag: str, mirror: str | None, log: Log
) -> None:
    """debootstrap a minimal Debian `suite` with `packages`, slim it and import it into the engine as `tag`."""
    check_can_debootstrap()
    mirror = mirror or os.environ.get(MIRROR_ENV) or None
    workdir = Path(tempfile.mkdtemp(prefix="grader-bootstrap-"))
    try:
        rootfs = workdir / "rootfs"
        _debootstrap(suite, rootfs, packages, mirror, log)
        _slim_rootfs(rootfs, log)
        tarball = workdir / "rootfs.tar"
        _tar_rootfs(rootfs, tarball, log)
        _import_rootfs(engine, tarball, tag, suite, log)
    finally:
        _remove_workdir(workdir, log)


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
    tail: deque[str] = deque(maxlen=TAIL_LINES)

    def on_line(line: str) -> None:
        line = line.rstrip()
        tail.append(line)
        if _is_phase_line(line):
            log(line)
        else:
            detail.debug("%s", line)

    returncode = stream_lines(command, on_line)
    if returncode != 0:
        # debootstrap's own log in the target usually names the failing package or download.
        own_log = target / "debootstrap" / "debootstrap.log"
        if own_log.is_file():
            tail.extend(own_log.read_text(errors="replace").splitlines()[-10:])
        raise SandboxError(
            f"debootstrap could not make a Debian {suite} root filesystem (exit {returncode})"
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


def _import_rootfs(engine: Engine, tarball: Path, tag: str, suite: str, log: Log) -> None:
    """Import the tarball as an image; give it the config an image from a registry would have had."""
    repository, _, image_tag = tag.partition(":")
    changes = [
        f"ENV PATH={ROOTFS_PATH}",
        "ENV LANG=C.UTF-8",
        'CMD ["bash"]',
        f"LABEL grader.role=rootfs grader.suite={suite} grader.version={__version__}",
    ]
    output = engine.import_image(tarball, repository=repository, tag=image_tag, changes=changes)
    for line in str(output).splitlines():
        with contextlib.suppress(ValueError):
            message = json.loads(line)
            if isinstance(message, dict) and message.get("error"):
                raise SandboxError(f"the engine could not import the root filesystem: {message['error']}")
    if not image_exists(engine, tag):
        raise SandboxError(f"the engine did not keep the imported root filesystem as {tag}: {output}")
    log(f"imported the root filesystem as {tag}")


def _remove_workdir(workdir: Path, log: Log) -> None:
    """Remove the bootstrap's temporary tree, whatever state debootstrap left it in.

    debootstrap mounts /proc (and more) inside the target while it configures packages; a run that failed
    half-way can leave those mounted, and deleting through a mounted /proc or /sys must never happen.
    """
    for mount_point in sorted(_mounts_under(workdir), key=len, reverse=True):
        with contextlib.suppress(OSError, TimedOut):
            run_process(["umount", "--lazy", mount_point], timeout_s=UMOUNT_TIMEOUT_S)
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

