"""`grader sandbox` (build, bootstrap, doctor, cleanup) and `grader cache` (info, prune): the Docker sandbox's
images and the grader's caches.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from grader.cli.base import main, size_option
from grader.cli.console import EXIT_SOME_ERRORED, err, escape, fail, friendly_errors, out, progress
from grader.engine import Engine, connect
from grader.sandbox import images
from grader.sandbox.base import SandboxError


@main.group()
def sandbox() -> None:
    """Build, inspect and clean the Docker sandbox."""


def _service_option(function: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--service", "service_refs", multiple=True, metavar="KIND[:VERSION]", callback=_parse_service_refs,
        help="Also build a service image: postgres or redis, with a major version (default: Debian's, "
             "postgres:15 and redis:7). Repeatable.",
    )(function)


def _parse_service_refs(_ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]) -> list[Any]:
    from grader.sandbox.services import KINDS, ServiceRequest

    requests = []
    for value in values:
        kind, _, version = value.partition(":")
        info = next((KINDS[k] for k in KINDS if k == kind), None)
        if info is None:
            raise click.BadParameter(f"{value!r}: use postgres or redis, optionally with :VERSION")
        requests.append(ServiceRequest(info.kind, version or info.debian_version))
    return requests


@sandbox.command("build")
@click.option("--python", default="3.11", show_default=True)
@_service_option
@friendly_errors
def sandbox_build(python: str, service_refs: list[Any]) -> None:
    """Build the base image from `python:<ver>-slim`, and service images from the official ones (needs a
    registry)."""
    engine = connect()
    tag = images.build_base_image(engine, python, log=progress)
    out.print(f"built {tag}", markup=False)
    for request in service_refs:
        out.print(f"built {images.build_service_image(engine, request, log=progress)}", markup=False)


@sandbox.command("bootstrap")
@click.option("--offline", is_flag=True, required=True, help="Build with debootstrap, no registry needed.")
@click.option("--python", default="3.11", show_default=True)
@click.option("--mirror", default=None, help="Debian mirror URL (default: debootstrap's own default).")
@click.option("--if-missing", is_flag=True, help="Do nothing for images that already exist.")
@click.option("--builder", is_flag=True,
              help="Also the build image (a C compiler and headers) that builds packages with no wheel.")
@_service_option
@friendly_errors
def sandbox_bootstrap(offline: bool, python: str, mirror: str | None, if_missing: bool, builder: bool,
                      service_refs: list[Any]) -> None:
    """Build the base image offline (debootstrap a Debian rootfs with python3 and import it), service images
    from Debian's postgresql and redis-server packages, and with --builder the image that builds source
    archives into wheels (otherwise built on first use)."""
    from grader.sandbox.services import image_tag

    for request in service_refs:  # a version Debian does not have is refused before anything is built
        images.check_offline_service(request)
    engine = connect()
    tag = images.base_image_tag(python)
    if if_missing and images.image_exists(engine, tag):
        out.print(f"{tag} is already there", markup=False)
    else:
        out.print(f"built {images.bootstrap_base_image(engine, python, log=progress, mirror=mirror)}", markup=False)
    if builder and if_missing and images.image_exists(engine, images.build_image_tag(python)):
        out.print(f"{images.build_image_tag(python)} is already there", markup=False)
    elif builder:
        out.print(f"built {images.bootstrap_build_image(engine, python, log=progress, mirror=mirror)}", markup=False)
    for request in service_refs:
        service_tag = image_tag(request)
        if if_missing and images.service_image_current(engine, request):
            out.print(f"{service_tag} is already there", markup=False)
            continue
        out.print(f"built {images.bootstrap_service_image(engine, request, log=progress, mirror=mirror)}",
                  markup=False)


@sandbox.command("doctor")
@friendly_errors
def sandbox_doctor() -> None:
    """Say what the sandbox has and what is missing."""
    try:
        engine: Engine | None = connect()
    except SandboxError:
        engine = None
    items = images.doctor(engine)
    for item in items:
        mark = "[green]ok[/]" if item.ok else "[red]missing[/]"
        out.print(f"{mark:>22} {escape(item.name)}: {escape(item.detail)}", markup=True, soft_wrap=True)
        if not item.ok and item.fix:
            out.print(f"{'':>11}fix: {item.fix}", markup=False, soft_wrap=True)


@sandbox.command("cleanup")
@click.option("--all", "everything", is_flag=True,
              help="Remove every grader container, volume and network, also those of gradings still running "
                   "(asks first).")
@click.option("--yes", "-y", is_flag=True, help="With --all: do not ask.")
@friendly_errors
def sandbox_cleanup(everything: bool, yes: bool) -> None:
    """Remove what killed graders left behind: containers, volumes and networks whose grader is gone.

    Each carries its grader's host, pid and start time. Those of gradings still running (another terminal,
    a CI job), of another host and of graders too old to record their owner are left alone; --all removes
    them too, after asking.
    """
    from grader.sandbox.cleanup import OWNER_WORDS, count_by_kind, grader_resources, remove, select

    found = grader_resources(connect())
    chosen = select(found, everything)
    for resource in chosen:
        out.print(escape(f"{'remove' if everything else 'orphaned'}: {resource.describe()}"), soft_wrap=True)
    if everything and chosen and not yes and not _confirmed(
            f"remove these {len(chosen)} resource(s), gradings still running included?"):
        fail("nothing was removed", EXIT_SOME_ERRORED)
    refused = remove(chosen)
    for resource, reason in refused:
        err.print(escape(f"could not remove {resource.kind} {resource.name}: {reason}"), soft_wrap=True)
    gone = [r for r in chosen if all(r is not other for other, _ in refused)]
    out.print(f"removed {count_by_kind(gone)}")
    kept = [r for r in found if r not in chosen]
    if kept:
        why = ", ".join(sorted({OWNER_WORDS[r.owner] for r in kept}))
        out.print(escape(f"left {count_by_kind(kept)} alone (their grader: {why}); --all removes them too"),
                  soft_wrap=True)


def _confirmed(question: str) -> bool:
    """Ask on the terminal; no answer (no terminal, Ctrl-D) is no."""
    try:
        return click.confirm(question, default=False, err=True)
    except click.Abort:
        return False


# --- caches (see grader/cache.py) -------------------------------------------------------------------------


@main.group()
def cache() -> None:
    """Sizes of the grader's caches, and pruning them."""


def _images_or_none() -> images.EngineImages | None:
    """The engine's images when an engine answers, else None (image caches are then left out)."""
    try:
        return images.EngineImages(connect(timeout=10))
    except SandboxError:
        return None


@cache.command("info")
@friendly_errors
def cache_info() -> None:
    """Sizes of the wheel sets, venvs, snapshots, mypy seeds and environment/runner images."""
    from grader.cache import cache_info as collect
    from grader.cache import human_size
    from grader.paths import cache_root

    engine_images = _images_or_none()
    out.print(escape(f"cache: {cache_root()}"), soft_wrap=True)
    for group in collect(engine_images):
        note = f"  ({group.note})" if group.note else ""
        count = f"{len(group.entries)} entr{'y' if len(group.entries) == 1 else 'ies'}"
        out.print(escape(f"{group.name:>15}: {count:>12} {human_size(group.size):>11}  {group.where}{note}"),
                  soft_wrap=True)
    if engine_images is None:
        out.print("no Docker engine answers: image caches are not shown")


@cache.command("prune")
@click.option("--older-than", "days", type=click.FloatRange(min=0), default=None, metavar="DAYS",
              help="Remove what was not used for DAYS days (default 30).")
@click.option("--all", "everything", is_flag=True, help="Remove every cache entry (not the base image).")
@click.option("--max-size", "max_size", default=None, metavar="SIZE",
              help="Then remove the least recently used entries until the caches and images fit in SIZE (e.g. 20GiB).")
@friendly_errors
def cache_prune(days: float | None, everything: bool, max_size: str | None) -> None:
    """Remove unused cache entries (a worker's results and bundles included); entries and images in use by
    a running grading are kept."""
    from grader.cache import human_size, prune

    if everything and days is not None:
        fail("use either --older-than or --all", 2)
    max_bytes = size_option("--max-size", max_size)
    report = prune(days, everything, _images_or_none(), max_bytes=max_bytes)
    for entry in report.removed:
        out.print(escape(f"removed {entry.group}/{entry.name} ({human_size(entry.size)})"), soft_wrap=True)
    for entry in report.skipped:
        out.print(escape(f"kept {entry.group}/{entry.name}: in use"), soft_wrap=True)
    out.print(f"removed {len(report.removed)} entr{'y' if len(report.removed) == 1 else 'ies'}, "
              f"freed {human_size(report.freed)}")
