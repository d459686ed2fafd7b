"""The `grader` group and what several commands share: --version, challenge completion, --service-url,
--resolve-as-of, --format, and choosing the sandbox backend.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import click

from grader import __version__
from grader.challenge import list_shipped_challenges
from grader.cli.console import err, escape, fail, progress
from grader.sandbox.base import Sandbox, SandboxError


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    from grader.toolchain import SCORING_TOOLS, installed_versions, locked_versions

    click.echo(f"grader {__version__}")
    click.echo("tools behind the scores (the runner image pins these versions; uv resolves on this host):")
    installed, locked = installed_versions((*SCORING_TOOLS, "uv")), locked_versions()
    for name in (*SCORING_TOOLS, "uv"):
        here = installed.get(name, "not installed")
        differs = f" (the lock says {locked[name]})" if name in locked and locked[name] != here else ""
        click.echo(f"  {name} {here}{differs}")
    ctx.exit()


def complete_challenge(_ctx: click.Context, _param: click.Parameter, incomplete: str) -> list[Any]:
    """Shell completion for a challenge: the shipped ids that match, else paths (a bundle or a kit)."""
    from click.shell_completion import CompletionItem

    try:
        ids = [cid for cid in list_shipped_challenges() if cid.startswith(incomplete)]
    except Exception:  # completion must never print a traceback into the shell
        ids = []
    if ids:
        return [CompletionItem(cid) for cid in ids]
    return [CompletionItem(incomplete, type="file")]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_print_version,
              help="Show the grader's version and those of the tools that produce scores, and exit.")
def main() -> None:
    """Grade take-home backend assignments (FastAPI, Flask, Django) in a locked-down sandbox.

    --debug, -v and -q work before the subcommand and on it. Shell completion (bash, zsh, fish), e.g. in
    ~/.bashrc: eval "$(_GRADER_COMPLETE=bash_source grader)"; the README has the zsh and fish lines.
    """


def service_url_option(function: Callable[..., Any]) -> Callable[..., Any]:
    """`--service-url KIND=URL` (repeatable): servers the local backend uses for a challenge's services."""
    return click.option(
        "--service-url", "service_urls", multiple=True, metavar="KIND=URL", callback=_parse_service_urls,
        help="Local backend: use this PostgreSQL or Redis for challenges that declare services, e.g. "
             "postgres=postgresql://user:pw@localhost:5432/postgres (a throwaway database per grading) or "
             "redis=redis://localhost:6379/15 (that database is emptied). Docker starts its own.",
    )(function)


def _parse_service_urls(_ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]) -> dict[str, str]:
    from grader.sandbox.local_services import parse_service_urls

    try:
        return {str(kind): url for kind, url in parse_service_urls(values).items()}
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def resolve_as_of_option(function: Callable[..., Any]) -> Callable[..., Any]:
    """`--resolve-as-of DATE|now`: the cutoff for versions the submission does not lock or pin."""
    return click.option(
        "--resolve-as-of", "resolve_as_of", default=None, metavar="DATE|now", callback=_parse_as_of,
        help="Resolve unlocked versions as of DATE (YYYY-MM-DD) or the newest (now); default: the submission's "
             "date (its HEAD commit, else its newest file).",
    )(function)


def _parse_as_of(_ctx: click.Context, _param: click.Parameter, value: str | None) -> datetime | str | None:
    if value is None or value == "now":
        return value
    try:
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date: write YYYY-MM-DD or now") from None


def make_sandbox(kind: str, python: str, service_urls: Mapping[str, str] | None = None,
                 log: Callable[[str], None] = progress) -> Sandbox:
    """The requested backend; `auto` is Docker when an engine answers and a base image can be had, else local.

    `service_urls` (from `--service-url`) serve the local backend; Docker starts fresh services itself.
    """
    if kind in ("auto", "docker"):
        from grader.sandbox.docker import DockerSandbox

        try:
            docker_sandbox = DockerSandbox(python=python, log=log)
            docker_sandbox.base_image()  # built once here, so a missing image is one clear error up front
            if service_urls:
                progress("--service-url is for the local backend: Docker starts fresh services of its own")
            return docker_sandbox
        except SandboxError as exc:
            if kind == "docker":
                raise
            err.print(f"[yellow]warning:[/] {escape(str(exc))}; falling back to the local backend", markup=True,
                      soft_wrap=True)
    from grader.sandbox.local import LocalSandbox

    err.print(
        "[yellow]warning:[/] the local backend runs the candidate's code as a plain process on this "
        "machine: it is not an isolation boundary",
        markup=True,
        soft_wrap=True,
    )
    return LocalSandbox(service_urls=service_urls)


def size_option(flag: str, text: str | None) -> int | None:
    """A size option's value in bytes (None: not given); one that is no size is one sentence and exit code 2."""
    from grader.cache import parse_size

    if text is None or not text.strip():
        return None
    try:
        return parse_size(text)
    except ValueError:
        fail(f"{flag} {text!r} is not a size: give a number with a unit, e.g. 500MiB or 20GiB", 2)


def report_formats(value: str) -> tuple[str, ...]:
    """`--format` as a tuple of known report formats; anything else is a usage error."""
    from grader.report import ReportError, parse_formats

    try:
        return parse_formats(value)
    except ReportError as exc:
        raise click.BadParameter(str(exc), param_hint="'--format'") from exc
