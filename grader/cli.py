"""The `grader` command line. Click lives here only; everything it calls is plain functions."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click
from rich.console import Console

from grader import __version__
from grader.challenge import ChallengeError, list_shipped_challenges, load_challenge
from grader.models import GradeResult
from grader.pipeline import grade_submission
from grader.sandbox import images
from grader.sandbox.base import Sandbox, SandboxError

EXIT_SOME_ERRORED = 1
EXIT_CANNOT_RUN = 3

err = Console(stderr=True, highlight=False)
out = Console(highlight=False)
F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str, code: int = EXIT_CANNOT_RUN) -> NoReturn:
    """Print one clear line and exit with `code`."""
    err.print(f"[bold red]error:[/] {message}", markup=True, soft_wrap=True)
    sys.exit(code)


def friendly_errors(command: F) -> F:
    """Known problems become one line; unexpected ones too, unless --debug asks for the traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        debug = bool(click.get_current_context().find_root().params.get("debug"))
        try:
            return command(*args, **kwargs)
        except (ChallengeError, SandboxError) as exc:
            if debug:
                raise
            fail(str(exc))
        except KeyboardInterrupt:
            fail("interrupted: running sandboxes were removed, finished results are kept", 130)
        except Exception as exc:
            if debug:
                raise
            fail(f"internal error: {type(exc).__name__}: {exc} (rerun with --debug for the traceback)")

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="grader")
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
def main(debug: bool) -> None:
    """Grade take-home backend assignments (FastAPI, Flask, Django) in a locked-down sandbox."""


def progress(message: str) -> None:
    err.print(f"[dim]·[/] {message}", markup=True, soft_wrap=True)


def make_sandbox(kind: str, python: str) -> Sandbox:
    """The requested backend; `auto` is Docker when an engine answers and a base image can be had, else local."""
    if kind in ("auto", "docker"):
        from grader.sandbox.docker import DockerSandbox

        try:
            docker_sandbox = DockerSandbox(python=python, log=progress)
            docker_sandbox.base_image()  # built once here, so a missing image is one clear error up front
            return docker_sandbox
        except SandboxError as exc:
            if kind == "docker":
                raise
            err.print(f"[yellow]warning:[/] {exc}; falling back to the local backend", markup=True, soft_wrap=True)
    from grader.sandbox.local import LocalSandbox

    err.print(
        "[yellow]warning:[/] the local backend runs the candidate's code as a plain process on this "
        "machine: it is not an isolation boundary",
        markup=True,
        soft_wrap=True,
    )
    return LocalSandbox()


@main.command()
@click.argument("submissions", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--challenge", "challenge_ref", required=True, help="Challenge id (shipped) or bundle path.")
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
@friendly_errors
def grade(
    submissions: tuple[Path, ...], challenge_ref: str, sandbox_kind: str, out_dir: Path, formats: tuple[str, ...],
    force: bool,
) -> None:
    """Grade SUBMISSIONS (directories, .zip/.tar(.gz) archives or git repositories).

    A result already in OUT is reused when the submission, the challenge and the grader are unchanged.
    """
    challenge = load_challenge(challenge_ref)
    sandbox = make_sandbox(sandbox_kind, challenge.python)
    errored = 0
    graded: list[tuple[Path, GradeResult]] = []
    for source in submissions:
        result = grade_submission(source, challenge, sandbox, out_dir, log=progress, force=force)
        print_summary(result, out_dir)
        errored += result.status != "graded"
        graded.append((source, result))
    write_grade_reports(graded, out_dir, formats)
    if errored:
        fail(f"{errored} of {len(submissions)} submission(s) could not be graded (see above)", EXIT_SOME_ERRORED)


def print_summary(result: GradeResult, out_dir: Path) -> None:
    """One line per submission on stdout: what a script or a person needs first."""
    name = result.submission.name if result.submission else "?"
    where = out_dir / name / "result.json"
    if result.status != "graded":
        out.print(f"[red]✗[/] {name}: not graded: {result.error}  ({where})", markup=True, soft_wrap=True)
        return
    hidden = [t for c in result.checks if c.id.startswith("hidden-tests/") for t in c.tests if t.outcome != "skipped"]
    passed = sum(t.outcome == "passed" for t in hidden)
    total = len(hidden)
    overall = "n/a" if result.overall is None else f"{result.overall:g}/100"
    out.print(
        f"[green]✓[/] {name}: overall {overall} over {result.evaluated_weight:g}% of the scorecard; "
        f"hidden tests {passed:g}/{total:g}  ({where})",
        markup=True, soft_wrap=True,
    )
    if result.app and not result.app.started:
        out.print(f"  [yellow]app {result.app.problem}[/]", markup=True, soft_wrap=True)


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


@sandbox.command("build")
@click.option("--python", default="3.11", show_default=True)
@friendly_errors
def sandbox_build(python: str) -> None:
    """Build the base image from `python:<ver>-slim` (needs a registry)."""
    tag = images.build_base_image(images.connect(), python, log=progress)
    out.print(f"built {tag}")


@sandbox.command("bootstrap")
@click.option("--offline", is_flag=True, required=True, help="Build with debootstrap, no registry needed.")
@click.option("--python", default="3.11", show_default=True)
@click.option("--mirror", default=None, help="Debian mirror URL (default: debootstrap's own default).")
@click.option("--if-missing", is_flag=True, help="Do nothing when the base image already exists.")
@friendly_errors
def sandbox_bootstrap(offline: bool, python: str, mirror: str | None, if_missing: bool) -> None:
    """Build the base image offline: debootstrap a Debian rootfs with python3 and import it."""
    client = images.connect()
    tag = images.base_image_tag(python)
    if if_missing and images.image_exists(client, tag):
        out.print(f"{tag} is already there")
        return
    tag = images.bootstrap_base_image(client, python, log=progress, mirror=mirror)
    out.print(f"built {tag}")


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
        out.print(f"{mark:>22} {item.name}: {item.detail}", markup=True, soft_wrap=True)
        if not item.ok and item.fix:
            out.print(f"{'':>11}fix: {item.fix}", soft_wrap=True)


@sandbox.command("cleanup")
@friendly_errors
def sandbox_cleanup() -> None:
    """Remove any grader container left behind (e.g. after the grader was killed with SIGKILL)."""
    from grader.sandbox.docker import remove_run_containers

    removed = remove_run_containers(images.connect())
    out.print(f"removed {removed} container(s)")


# --- reports (rendered from result.json files only; see grader/report.py) ---------------------------------


def report_formats(value: str) -> tuple[str, ...]:
    """`--format` as a tuple of known report formats; anything else is a usage error."""
    from grader.report import ReportError, parse_formats

    try:
        return parse_formats(value)
    except ReportError as exc:
        raise click.BadParameter(str(exc), param_hint="'--format'") from exc


def write_grade_reports(graded: list[tuple[Path, GradeResult]], out_dir: Path, formats: tuple[str, ...]) -> None:
    """After `grade`: render the chosen reports from the result.json files just written."""
    if not set(formats) - {"json"}:
        return
    from grader.intake import submission_name
    from grader.report import load_results, write_reports

    directories = [out_dir / (r.submission.name if r.submission else submission_name(s)) for s, r in graded]
    written = write_reports(load_results(directories), out_dir, formats, "reviewer")
    cohort = out_dir / "index.html"
    where = f"; cohort report: {cohort}" if cohort in written else ""
    progress(escape(f"wrote {len(written)} report file(s) under {out_dir}{where}"))


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
    from grader.report import ReportError, load_results, write_reports

    problems: list[str] = []
    results = load_results(paths, on_error=problems.append)
    if not results and len(problems) == 1:
        fail(escape(problems[0]))
    for problem in problems:
        err.print(f"[bold red]error:[/] {escape(problem)}", markup=True, soft_wrap=True)
    if not results:
        fail(f"none of the {len(problems)} path(s) held a readable result.json; nothing was rendered")
    try:
        written = write_reports(results, out_dir, formats, "candidate" if audience == "candidate" else "reviewer")
    except (ReportError, OSError) as exc:
        fail(escape(f"could not write the reports: {exc}"))
    for path in written:
        out.print(escape(str(path)), highlight=False, soft_wrap=True)
    if problems:
        fail(f"{len(problems)} path(s) could not be read; {len(results)} result(s) were rendered", EXIT_SOME_ERRORED)


def escape(text: str) -> str:
    """Text made safe for Rich markup (paths and messages may hold square brackets)."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)
