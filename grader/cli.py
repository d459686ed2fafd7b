"""The `grader` command line. Click lives here only; everything it calls is plain functions."""

from __future__ import annotations

import functools
import json
import logging
import signal
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, NoReturn, TypeVar

import click
from rich.console import Console

from grader import __version__
from grader.app_log import not_ready_sentence
from grader.bulk import (
    Batch,
    BatchItem,
    LiveDisplay,
    PlainDisplay,
    Runner,
    Survey,
    default_jobs,
    make_display,
    plan_batch,
    run_batch,
    skipped_lines,
    survey_submissions,
)
from grader.challenge import ChallengeError, list_shipped_challenges, load_challenge
from grader.ci import EXIT_BELOW_THRESHOLD, append_step_summary, below_threshold, below_threshold_message
from grader.cohort import SkippedEntry
from grader.models import Challenge, GradeResult
from grader.outdir import OutputError, as_output_error, check_output_dir
from grader.pipeline import GradingOptions, challenge_services
from grader.results import result_path
from grader.sandbox import images
from grader.sandbox.base import Sandbox, SandboxError

EXIT_SOME_ERRORED = 1
EXIT_USAGE = 2
EXIT_CANNOT_RUN = 3

err = Console(stderr=True, highlight=False)
out = Console(highlight=False)
F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str, code: int = EXIT_CANNOT_RUN) -> NoReturn:
    """Print one clear line and exit with `code` (`message` is plain text: brackets are shown as they are)."""
    err.print(f"[bold red]error:[/] {escape(message)}", markup=True, soft_wrap=True)
    sys.exit(code)


def stop_on_sigterm() -> None:
    """Treat SIGTERM (a cancelled CI job, `kill`, `timeout`) like Ctrl-C: the running sandboxes, their
    service containers included, are removed and finished results kept, instead of being left behind."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def friendly_errors(command: F) -> F:
    """Known problems become one line; unexpected ones too, unless --debug asks for the traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        stop_on_sigterm()
        try:
            return command(*args, **kwargs)
        except (ChallengeError, SandboxError) as exc:
            if settings.debug:
                raise
            fail(str(exc))
        except OutputError as exc:
            fail(escape(str(exc)), EXIT_USAGE)
        except KeyboardInterrupt:
            fail("interrupted: running sandboxes were removed, finished results are kept", 130)
        except Exception as exc:
            if settings.debug:
                raise
            out_dir = click.get_current_context().params.get("out_dir")
            # a full or read-only disk is no bug: say so in one sentence
            disk = as_output_error(exc, *([out_dir] if isinstance(out_dir, Path) else []))
            if disk is not None:
                fail(escape(str(disk)), EXIT_USAGE)
            fail(escape(f"internal error: {type(exc).__name__}: {exc} (rerun with --debug for the traceback)"))

    return wrapper  # type: ignore[return-value]


# --- --debug, -v and -q: accepted before the subcommand and on every one ----------------------------------


@dataclass
class OutputSettings:
    """This invocation's --debug, -v and -q (worker threads read them too, so they live at module level)."""

    debug: bool = False
    verbose: bool = False
    quiet: bool = False


settings = OutputSettings()
DETAIL_LOGGER = "grader"  # -v shows what the pipeline logs at DEBUG level under this logger


def _set_output_flag(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    """Record a flag given before or after the subcommand; every invocation starts from scratch."""
    global settings
    root = ctx.find_root()
    settings = root.meta.setdefault("grader.output", OutputSettings())
    if value and param.name:
        setattr(settings, param.name, True)
    if settings.verbose and settings.quiet:
        raise click.UsageError("use either -v (more lines) or -q (fewer), not both", ctx)
    if settings.verbose and not root.meta.get("grader.detail-lines"):
        root.meta["grader.detail-lines"] = True
        root.call_on_close(_show_detail_lines())


def _show_detail_lines() -> Callable[[], None]:
    """Print the pipeline's DEBUG lines (image build output, commands, timings); returns the undo."""
    logger = logging.getLogger(DETAIL_LOGGER)
    handler = _DetailHandler()
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)

    def undo() -> None:
        logger.removeHandler(handler)
        logger.setLevel(previous)

    return undo


class _DetailHandler(logging.Handler):
    """-v: a detail line, dimmed and indented under the progress lines."""

    def emit(self, record: logging.LogRecord) -> None:
        from rich.text import Text

        err.print(Text(f"  {record.getMessage()}", style="dim"), soft_wrap=True)


OUTPUT_OPTIONS = (
    ("--debug", None, "Show tracebacks instead of one-line errors."),
    ("--verbose", "-v", "Show every progress line (no live table) and more of them: image build output, "
                        "commands run, stage timings."),
    ("--quiet", "-q", "Show only the result lines, warnings and errors."),
)


def add_output_options(command: click.Command) -> None:
    """Give `command` and every subcommand under it --debug, -v and -q (fresh option objects each)."""
    for flag, short, help_text in OUTPUT_OPTIONS:
        command.params.append(click.Option([flag, *([short] if short else [])], is_flag=True, expose_value=False,
                                           callback=_set_output_flag, help=help_text))
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            add_output_options(sub)


# --- --version and shell completion ----------------------------------------------------------------------


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


def progress(message: str) -> None:
    """A progress line on stderr (none with -q); `message` is plain text (a hint like `[tool.grader]` stays
    intact)."""
    if not settings.quiet:
        err.print(f"[dim]·[/] {escape(message)}", markup=True, soft_wrap=True)


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


def make_sandbox(kind: str, python: str, service_urls: Mapping[str, str] | None = None) -> Sandbox:
    """The requested backend; `auto` is Docker when an engine answers and a base image can be had, else local.

    `service_urls` (from `--service-url`) serve the local backend; Docker starts fresh services itself.
    """
    if kind in ("auto", "docker"):
        from grader.sandbox.docker import DockerSandbox

        try:
            docker_sandbox = DockerSandbox(python=python, log=progress)
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


@main.command()
@click.argument("submissions", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--challenge", "challenge_ref", required=True, shell_complete=complete_challenge,
              help="Challenge id (shipped) or bundle path.")
@click.option(
    "--sandbox", "sandbox_kind", type=click.Choice(["auto", "docker", "local"]), default="auto",
    show_default=True, help="Where the candidate's app runs.",
)
@click.option(
    "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("grader-results"),
    show_default=True, help="Results go to OUT/<submission>/result.json.",
)
@click.option(
    "--format", "formats", default="json,html", show_default=True, metavar="FORMATS",
    callback=lambda _ctx, _param, value: report_formats(value),  # defined with the `report` command below
    help="Reports to write, comma-separated: html, json, md, junit (result.json is always written).",
)
@click.option("--force", is_flag=True, help="Regrade even when an unchanged result is already in OUT.")
@click.option(
    "-j", "--jobs", type=click.IntRange(min=1), default=None, metavar="N",
    help="Gradings in parallel (default: min(CPUs, available memory in GiB / 2); local backend: 1).",
)
@click.option(
    "--fail-under", type=click.FloatRange(0, 100), default=None, metavar="SCORE",
    help=f"Exit with code {EXIT_BELOW_THRESHOLD} when a graded submission's overall score is below SCORE.",
)
@service_url_option
@resolve_as_of_option
@click.option("--root", "root", default=None, metavar="DIR",
              help="The Python project's folder inside each submission (default: found; see README).")
@friendly_errors
def grade(
    submissions: tuple[Path, ...], challenge_ref: str, sandbox_kind: str, out_dir: Path, formats: tuple[str, ...],
    force: bool, fail_under: float | None, jobs: int | None, service_urls: dict[str, str],
    resolve_as_of: datetime | Literal["now"] | None, root: str | None,
) -> None:
    """Grade SUBMISSIONS (directories, zip or tar (gz, bz2, xz) archives or git repositories, or folders of them).

    A folder with no .py file, no project file (pyproject.toml, requirements.txt, ...) and no .git at its
    top level is a cohort folder: its subdirectories and archives are the submissions; its other entries
    are listed, with the reason, as not graded. A result already in OUT is reused when the submission, the
    challenge and the grader are unchanged.
    """
    check_output_dir(out_dir)  # an unwritable or full --out is one sentence now, not after the grading
    challenge = load_challenge(challenge_ref)
    survey = survey_submissions(submissions)
    show_skipped(survey)
    sources = survey.submissions
    if not sources:
        listed = "; every entry was skipped, for the reasons above" if survey.skipped else ""
        fail(f"no submission found in the given folder(s){listed}", 2)
    sandbox = make_sandbox(sandbox_kind, challenge.python, service_urls)
    sandbox.describe_services(challenge_services(challenge))  # the images, or a missing URL, once up front
    batch = grade_batch(sources, challenge, sandbox, out_dir, force, jobs, GradingOptions(resolve_as_of, root))
    if batch.output_error is not None:
        fail(escape(str(batch.output_error)), EXIT_USAGE)
    finished = [item for item in batch.items if item.result is not None]
    results = [item.result for item in finished if item.result is not None]
    write_grade_reports([out_dir / item.name for item in finished], out_dir, formats, survey.skipped)
    record_cohort(out_dir, survey)
    append_step_summary(results, skipped=survey.skipped)
    if batch.interrupted:
        fail(f"interrupted: running sandboxes were removed; {len(finished)} finished result(s) are kept", 130)
    errored = sum(result.status != "graded" for result in results)
    if errored:
        fail(f"{errored} of {len(sources)} submission(s) could not be graded (see above)", EXIT_SOME_ERRORED)
    enforce_fail_under(results, fail_under)


def show_skipped(survey: Survey) -> None:
    """Before grading: each cohort folder's entries that will not be graded, with the reason."""
    for line in skipped_lines(survey):
        heading = not line.startswith(" ")
        err.print(f"[yellow]skipped:[/] {escape(line)}" if heading else escape(line), markup=True, soft_wrap=True)


def record_cohort(out_dir: Path, survey: Survey) -> None:
    """After grading: record the cohort folders in OUT/cohort.json and repeat what was not graded."""
    from grader.cohort import COHORT_FILE, record_folders

    record_folders(out_dir, survey.folders)
    if survey.skipped:
        names = ", ".join(entry.name for entry in survey.skipped)
        progress(escape(f"not graded, as listed before grading: {names} (recorded in {out_dir / COHORT_FILE})"))


def grade_batch(
    sources: list[Path], challenge: Challenge, sandbox: Sandbox, out_dir: Path, force: bool, jobs: int | None,
    options: GradingOptions | None = None,
) -> Batch:
    """Grade `sources` in parallel with a progress display (a live table on a terminal, lines otherwise)."""
    if jobs and jobs > 1 and not sandbox.concurrent_runs:
        err.print("[yellow]warning:[/] the local backend grades one submission at a time", markup=True)
    batch = plan_batch(sources, jobs if jobs and sandbox.concurrent_runs else default_jobs(sandbox))
    # -v and -q: plain lines (every one with -v, none with -q) instead of the live table
    display = PlainDisplay(progress) if settings.verbose or settings.quiet else make_display(err, progress)
    if isinstance(display, LiveDisplay):
        from grader.sandbox.docker import DockerSandbox

        if isinstance(sandbox, DockerSandbox):  # image builds show under the table, not as scrolling lines
            sandbox.log = lambda message: display.log(None, message)
    runner = Runner(challenge, sandbox, out_dir, force, display, options=options or GradingOptions())
    live = isinstance(display, LiveDisplay)  # the table shows each result; the summary lines follow it

    def finished(item: BatchItem) -> None:
        if item.result is not None and not live:
            print_summary(item.result, out_dir, item.name)

    run_batch(batch, runner, finished)
    for item in batch.items if live else []:
        if item.result is not None:
            print_summary(item.result, out_dir, item.name)
    return batch


def enforce_fail_under(results: list[GradeResult], threshold: float | None) -> None:
    """`--fail-under`: exit 4 naming every graded submission whose overall score is below the threshold."""
    low = [] if threshold is None else below_threshold(results, threshold)
    if threshold is not None and low:
        fail(below_threshold_message(low, threshold), EXIT_BELOW_THRESHOLD)


def print_summary(result: GradeResult, out_dir: Path, name: str | None = None) -> None:
    """One line per submission on stdout: what a script or a person needs first.

    ✓ graded with the app running, ✗ not graded or graded with an app that never became ready (the line
    says why, from the app's log; the next line gives the score and how it was counted).
    """
    name = name or (result.submission.name if result.submission else "?")
    where = escape(str(result_path(out_dir / name)))
    if result.status != "graded":
        out.print(f"[red]✗[/] {escape(name)}: not graded: {escape(result.error or '?')}  ({where})", markup=True,
                  soft_wrap=True)
        return
    passed, total = result.hidden_totals()
    overall = "n/a" if result.overall is None else f"{result.overall:g}/100"
    if result.did_not_run:
        problem = not_ready_sentence(result.app.problem if result.app else None)
        out.print(f"[red]✗[/] {escape(name)}: did not run: {escape(problem)}  ({where})", markup=True, soft_wrap=True)
        out.print(f"  overall {overall}, with the categories the hidden tests measure counted as 0 (the static "
                  f"checks measured {result.evaluated_weight:g}% of the scorecard); hidden tests {passed}/{total}",
                  markup=False, soft_wrap=True)
        return
    out.print(
        f"[green]✓[/] {escape(name)}: overall {overall} over {result.evaluated_weight:g}% of the scorecard; "
        f"hidden tests {passed:g}/{total:g}  ({where})",
        markup=True, soft_wrap=True,
    )


@main.command()
def schema() -> None:
    """Print the JSON Schema of result.json."""
    click.echo(json.dumps(GradeResult.model_json_schema(), indent=2))


@main.group()
def challenge() -> None:
    """Challenge bundles."""


@challenge.command("list")
def challenge_list() -> None:
    """List the challenges shipped with the grader."""
    for challenge_id in list_shipped_challenges():
        bundle = load_challenge(challenge_id)
        click.echo(f"{bundle.id}\t{bundle.title}")


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
    client = images.connect()
    tag = images.build_base_image(client, python, log=progress)
    out.print(f"built {tag}", markup=False)
    for request in service_refs:
        out.print(f"built {images.build_service_image(client, request, log=progress)}", markup=False)


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
    client = images.connect()
    tag = images.base_image_tag(python)
    if if_missing and images.image_exists(client, tag):
        out.print(f"{tag} is already there", markup=False)
    else:
        out.print(f"built {images.bootstrap_base_image(client, python, log=progress, mirror=mirror)}", markup=False)
    if builder and if_missing and images.image_exists(client, images.build_image_tag(python)):
        out.print(f"{images.build_image_tag(python)} is already there", markup=False)
    elif builder:
        out.print(f"built {images.bootstrap_build_image(client, python, log=progress, mirror=mirror)}", markup=False)
    for request in service_refs:
        service_tag = image_tag(request)
        if if_missing and images.service_image_current(client, request):
            out.print(f"{service_tag} is already there", markup=False)
            continue
        out.print(f"built {images.bootstrap_service_image(client, request, log=progress, mirror=mirror)}",
                  markup=False)


@sandbox.command("doctor")
@friendly_errors
def sandbox_doctor() -> None:
    """Say what the sandbox has and what is missing."""
    try:
        client: Any = images.connect()
    except SandboxError:
        client = None
    items = images.doctor(client)
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

    found = grader_resources(images.connect())
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


def _engine_or_none() -> Any:
    """A Docker client when an engine answers, else None (image caches are then left out)."""
    try:
        return images.connect(timeout=10)
    except SandboxError:
        return None


@cache.command("info")
@friendly_errors
def cache_info() -> None:
    """Sizes of the wheel sets, venvs, snapshots, mypy seeds and environment/runner images."""
    from grader.cache import cache_info as collect
    from grader.cache import human_size
    from grader.paths import cache_root

    client = _engine_or_none()
    out.print(escape(f"cache: {cache_root()}"), soft_wrap=True)
    for group in collect(client):
        note = f"  ({group.note})" if group.note else ""
        count = f"{len(group.entries)} entr{'y' if len(group.entries) == 1 else 'ies'}"
        out.print(escape(f"{group.name:>15}: {count:>12} {human_size(group.size):>11}  {group.where}{note}"),
                  soft_wrap=True)
    if client is None:
        out.print("no Docker engine answers: image caches are not shown")


@cache.command("prune")
@click.option("--older-than", "days", type=click.FloatRange(min=0), default=None, metavar="DAYS",
              help="Remove what was not used for DAYS days (default 30).")
@click.option("--all", "everything", is_flag=True, help="Remove every cache entry (not the base image).")
@friendly_errors
def cache_prune(days: float | None, everything: bool) -> None:
    """Remove unused cache entries; entries and images in use by a running grading are kept."""
    from grader.cache import human_size, prune

    if everything and days is not None:
        fail("use either --older-than or --all", 2)
    report = prune(days, everything, _engine_or_none())
    for entry in report.removed:
        out.print(escape(f"removed {entry.group}/{entry.name} ({human_size(entry.size)})"), soft_wrap=True)
    for entry in report.skipped:
        out.print(escape(f"kept {entry.group}/{entry.name}: in use"), soft_wrap=True)
    out.print(f"removed {len(report.removed)} entr{'y' if len(report.removed) == 1 else 'ies'}, "
              f"freed {human_size(report.freed)}")


# --- reports (rendered from result.json files only; see grader/report.py) ---------------------------------


def report_formats(value: str) -> tuple[str, ...]:
    """`--format` as a tuple of known report formats; anything else is a usage error."""
    from grader.report import ReportError, parse_formats

    try:
        return parse_formats(value)
    except ReportError as exc:
        raise click.BadParameter(str(exc), param_hint="'--format'") from exc


def write_grade_reports(
    directories: list[Path], out_dir: Path, formats: tuple[str, ...], skipped: Sequence[SkippedEntry] = (),
) -> None:
    """After `grade`: render the chosen reports from the result.json files just written (in `directories`);
    the cohort reports also list the cohort folders' entries that were not graded (`skipped`)."""
    if not set(formats) - {"json"} or not directories:
        return
    from grader.report import load_results, write_reports

    written = write_reports(load_results(directories), out_dir, formats, "reviewer", skipped)
    cohort = out_dir / "index.html"
    where = f"; cohort report: {cohort}" if cohort in written else ""
    progress(f"wrote {len(written)} report file(s) under {out_dir}{where}")


@main.command()
@click.argument("paths", nargs=-1, required=True, metavar="RESULT_OR_DIR...", type=click.Path(path_type=Path))
@click.option(
    "--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
    help="Reports go to OUT/<submission>/ (report.html, summary.md, junit.xml) and OUT/index.html.",
)
@click.option(
    "--format", "formats", default="json,html", show_default=True, metavar="FORMATS",
    callback=lambda _ctx, _param, value: report_formats(value),
    help="Comma-separated: html, json, md, junit.",
)
@click.option(
    "--audience", type=click.Choice(["reviewer", "candidate"]), default="reviewer", show_default=True,
    help="candidate: per-category totals only, no hidden-test names, messages, code or logs.",
)
@friendly_errors
def report(paths: tuple[Path, ...], out_dir: Path, formats: tuple[str, ...], audience: str) -> None:
    """Render reports from RESULT_OR_DIR... (result.json files, or directories searched for them)."""
    from grader.cohort import skipped_in
    from grader.report import ReportError, load_results, write_reports

    check_output_dir(out_dir)
    problems: list[str] = []
    results = load_results(paths, on_error=problems.append)
    if not results and len(problems) == 1:
        fail(problems[0])
    for problem in problems:
        err.print(f"[bold red]error:[/] {escape(problem)}", markup=True, soft_wrap=True)
    if not results:
        fail(f"none of the {len(problems)} path(s) held a readable result.json; nothing was rendered")
    skipped = skipped_in(path for path in paths if path.is_dir())  # from `grade`'s OUT/cohort.json
    try:
        written = write_reports(results, out_dir, formats, "candidate" if audience == "candidate" else "reviewer",
                                skipped)
    except (ReportError, OSError) as exc:
        disk = as_output_error(exc, out_dir)
        fail(escape(str(disk) if disk else f"could not write the reports: {exc}"),
             EXIT_USAGE if disk else EXIT_CANNOT_RUN)
    for path in written:
        out.print(escape(str(path)), highlight=False, soft_wrap=True)
    if problems:
        fail(f"{len(problems)} path(s) could not be read; {len(results)} result(s) were rendered", EXIT_SOME_ERRORED)


def escape(text: str) -> str:
    """Text made safe for Rich markup (paths and messages may hold square brackets)."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)


# --- candidates and challenge authors (see grader/candidate_check.py and grader/authoring.py) -------------


@main.command()
@click.argument("path", required=False, default=Path("."), type=click.Path(exists=True, path_type=Path))
@click.option(
    "--challenge", "challenge_ref", default=None, metavar="ID_OR_PATH_OR_ARCHIVE", shell_complete=complete_challenge,
    help="Challenge id, bundle or unpacked kit directory, or kit .zip (default: the nearest challenge.toml "
         "in PATH or above it).",
)
@click.option(
    "--sandbox", "sandbox_kind", type=click.Choice(["auto", "docker", "local"]), default="auto",
    show_default=True, help="Where your app runs.",
)
@click.option(
    "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Write OUT/<name>/result.json here (default: the grader's cache, never your project).",
)
@service_url_option
@friendly_errors
def check(path: Path, challenge_ref: str | None, sandbox_kind: str, out_dir: Path | None,
          service_urls: dict[str, str]) -> None:
    """Run the public tests and the static checks against PATH (default: the current directory).

    Needs no hidden tests, so it works from an exported kit; the public part is scored as `grade` does.
    """
    from grader.candidate_check import load_check_challenge, render_check, run_check
    from grader.intake import submission_name
    from grader.paths import cache_dir

    out_root = out_dir or cache_dir("check")
    check_output_dir(out_root)
    bundle = load_check_challenge(challenge_ref, path)
    sandbox_backend = make_sandbox(sandbox_kind, bundle.python, service_urls)
    result = run_check(path, bundle, sandbox_backend, out_root, progress)
    name = result.submission.name if result.submission else submission_name(path)
    render_check(result, result_path(out_root / name), out)
    if result.status != "graded":
        sys.exit(EXIT_SOME_ERRORED)


@challenge.command("new")
@click.argument("challenge_id", metavar="ID")
@click.option(
    "--dir", "parent", type=click.Path(file_okay=False, path_type=Path), default=Path("."), show_default=True,
    help="Create the bundle in DIR/ID.",
)
@click.option("--title", default=None, help="The challenge's title (default: from the id).")
@friendly_errors
def challenge_new(challenge_id: str, parent: Path, title: str | None) -> None:
    """Create a working skeleton bundle: manifest, README, public and hidden tests, reference, starter."""
    from grader.authoring import new_challenge

    target = new_challenge(challenge_id, parent, title)
    out.print(escape(f"created {target}"), soft_wrap=True)
    out.print(escape(f"next: edit it, then `grader challenge validate {target}` and "
                     f"`grader challenge export {target} --out {challenge_id}-kit.zip`"), soft_wrap=True)


@challenge.command("validate")
@click.argument("ref", metavar="ID_OR_PATH", shell_complete=complete_challenge)
@click.option(
    "--sandbox", "sandbox_kind", type=click.Choice(["auto", "docker", "local"]), default="auto",
    show_default=True, help="Where the solutions and the starter are graded.",
)
@click.option(
    "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Keep the gradings' results here (default: a temporary directory).",
)
@click.option("--no-grade", is_flag=True, help="Check the schema, layout and imports only; grade nothing.")
@service_url_option
@friendly_errors
def challenge_validate(ref: str, sandbox_kind: str, out_dir: Path | None, no_grade: bool,
                       service_urls: dict[str, str]) -> None:
    """Prove a bundle: schema, layout, suites importing nothing from the candidate, every solution landing
    in its expected outcome, and the starter failing the hidden suite. Exits 1 on any failure."""
    import tempfile

    from grader.authoring import Verdict, validate_challenge

    def show(verdict: Verdict) -> None:
        mark = "[green]ok[/]  " if verdict.ok else "[red]FAIL[/]"
        out.print(f"{mark} {escape(verdict.subject)}: {escape(verdict.detail)}", markup=True, soft_wrap=True)

    def sandbox_for(bundle: Any) -> Sandbox:
        return make_sandbox(sandbox_kind, bundle.python, service_urls)

    if out_dir is not None:
        check_output_dir(out_dir)
    with tempfile.TemporaryDirectory(prefix="grader-validate-") as scratch:
        report = validate_challenge(ref, None if no_grade else sandbox_for, out_dir or Path(scratch),
                                    log=progress, on_verdict=show)
    failures = sum(not v.ok for v in report.verdicts)
    if failures:
        fail(f"{ref}: {failures} of {len(report.verdicts)} check(s) failed", EXIT_SOME_ERRORED)
    out.print(escape(f"{ref}: valid ({len(report.verdicts)} checks)"), soft_wrap=True)


@challenge.command("export")
@click.argument("ref", metavar="ID_OR_PATH", shell_complete=complete_challenge)
@click.option("--out", "out_file", required=True, type=click.Path(dir_okay=False, path_type=Path),
              callback=lambda _ctx, _param, value: zip_path(value), help="The kit's .zip file.")
@friendly_errors
def challenge_export(ref: str, out_file: Path) -> None:
    """Write the candidate kit: README, public tests, starter, public challenge.toml, pinned grader.

    Never hidden/ or solutions/; refuses when a kit file would name a hidden test.
    """
    from grader.authoring import export_kit

    kit = export_kit(ref, out_file)
    out.print(escape(f"wrote {kit.path}: {len(kit.files)} files under {kit.top}/"), soft_wrap=True)


def zip_path(value: Path) -> Path:
    """`--out` of `challenge export`: the kit is a zip file."""
    if value.suffix.lower() != ".zip":
        raise click.BadParameter("the kit is a zip file: give a path ending in .zip", param_hint="'--out'")
    return value


add_output_options(main)  # last: every command above gets --debug, -v and -q
