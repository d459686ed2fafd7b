"""The commands of grading on many machines: `worker` (run a Celery worker on this host) and `workers`
(list the live ones). `grade --broker URL` (in `grading`) sends a cohort to them.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

import click

from grader.cli.base import main, size_option
from grader.cli.console import err, escape, fail, friendly_errors, out
from grader.distributed.protocol import BROKER_ENV, DEFAULT_QUEUE
from grader.distributed.stores import STORE_ENV

MIB = 1024 * 1024


def broker_option(required: bool) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """`--broker URL` (or GRADER_BROKER_URL): the Redis that carries the tasks, results and artifacts."""
    return click.option(
        "--broker", "broker_url", envvar=BROKER_ENV, required=required, default=None, metavar="URL",
        help="The Redis broker, e.g. redis://:PASSWORD@host:6379/0 (rediss:// for TLS); default: $GRADER_BROKER_URL.",
    )


queue_option = click.option("--queue", default=DEFAULT_QUEUE, show_default=True,
                            help="The Celery queue the tasks go through.")
max_artifact_option = click.option(
    "--max-artifact-mb", type=click.IntRange(min=1), default=200, show_default=True,
    help="Refuse a submission, bundle or result archive larger than this.",
)
artifacts_option = click.option(
    "--artifacts", "artifacts_url", envvar=STORE_ENV, default=None, metavar="URL",
    help="Keep the archives in an S3-compatible bucket, s3://BUCKET/PREFIX, instead of the broker's Redis "
         "(credentials: the AWS environment variables or config); default: $GRADER_ARTIFACTS_URL.",
)
artifacts_endpoint_option = click.option(
    "--artifacts-endpoint", default=None, metavar="URL",
    help="The S3-compatible server, e.g. http://minio.internal:9000 (default: $AWS_ENDPOINT_URL, else AWS).",
)


@main.command()
@broker_option(required=True)
@click.option("--concurrency", type=click.IntRange(min=1), default=1, show_default=True,
              help="Gradings this host runs at once (one task per slot; nothing is prefetched beyond them).")
@queue_option
@click.option("--sandbox", "sandbox_kind", type=click.Choice(["auto", "docker", "local"]), default="auto",
              show_default=True, help="Where the candidates' apps run on this host.")
@click.option("--name", default=None, help="The worker's name (default: grader-<pid>@<host>).")
@click.option("--visibility-timeout", type=click.FloatRange(min=10), default=None, metavar="SECONDS",
              help="Seconds before the task of a dead worker goes to another (default: from the shipped "
                   "challenges' limits).")
@click.option("--retries", type=click.IntRange(min=0), default=2, show_default=True,
              help="Retries of a grading that failed on the engine, before it is recorded as an error.")
@click.option("--cache-max-size", "cache_max_size", envvar="GRADER_CACHE_MAX_SIZE", default=None, metavar="SIZE",
              help="Keep this host's grader cache (wheels, environments, images) within SIZE (e.g. 20GiB): the "
                   "least recently used entries go every few gradings, none used in the last 10 minutes.")
@max_artifact_option
@artifacts_endpoint_option
@friendly_errors
def worker(broker_url: str, concurrency: int, queue: str, sandbox_kind: str, name: str | None,
           visibility_timeout: float | None, retries: int, cache_max_size: str | None, max_artifact_mb: int,
           artifacts_endpoint: str | None) -> None:
    """Grade tasks from the broker on this host, with its Docker engine and caches (Ctrl-C stops it)."""
    from grader.distributed.protocol import shipped_limits
    from grader.distributed.protocol import visibility_timeout as timeout_for
    from grader.distributed.worker import WorkerSettings, make_app, sweep_orphans_at_start

    if sandbox_kind == "local":
        err.print("[yellow]warning:[/] the local backend runs the candidate's code as a plain process on this "
                  "machine: it is not an isolation boundary", markup=True, soft_wrap=True)
    settings = WorkerSettings(sandbox_kind=sandbox_kind, max_bytes=max_artifact_mb * MIB, retries=retries,
                              artifacts_endpoint=artifacts_endpoint,
                              cache_max_bytes=size_option("--cache-max-size", cache_max_size))
    timeout = visibility_timeout or timeout_for(shipped_limits())
    app = make_app(broker_url, queue, timeout, settings)
    logging.getLogger("grader").setLevel(logging.INFO)
    sweep_orphans_at_start(sandbox_kind)
    app.worker_main(["worker", "--loglevel=INFO", f"--concurrency={concurrency}", "-Q", queue,
                     "-n", name or f"grader-{os.getpid()}@%h", "--without-gossip", "--without-mingle"])


@main.command()
@broker_option(required=True)
@click.option("--timeout", type=click.FloatRange(min=0.1), default=2.0, show_default=True,
              help="Seconds to wait for the workers' answers.")
@friendly_errors
def workers(broker_url: str, timeout: float) -> None:
    """List the live workers: their capacity and the tasks they are running."""
    from grader.distributed.worker import INFO_COMMAND, make_app

    app = make_app(broker_url, DEFAULT_QUEUE, 3600)
    inspect = app.control.inspect(timeout=timeout)
    stats, active = inspect.stats() or {}, inspect.active() or {}
    info = inspect._request(INFO_COMMAND) or {}  # Celery's own way to call a custom inspect command
    if not stats:
        fail("no worker answered: start one with `grader worker --broker URL` on a Docker host")
    for hostname in sorted(stats):
        slots = stats[hostname].get("pool", {}).get("max-concurrency", "?")
        running = active.get(hostname, [])
        about = info.get(hostname) or {}
        engine = f", grader {about.get('grader', '?')}, {about.get('engine', 'engine unknown')}" if about else ""
        out.print(escape(f"{hostname}: {slots} slot(s), {len(running)} running{engine}"), highlight=False,
                  soft_wrap=True)
        for task in running:
            args = task.get("args") or [{}]
            name = args[0].get("name", "?") if isinstance(args[0], dict) else "?"
            out.print(escape(f"  {name} ({task.get('id')})"), highlight=False)
