"""The commands that make and render results: `grade` (one submission or a cohort), `check` (a candidate's
own run of the public tests), `report` (re-rendered from result.json files) and `schema`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

import click

from grader.bulk import (
    Batch,
    BatchItem,
    CacheLimit,
    Display,
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
from grader.challenge import load_challenge
from grader.ci import EXIT_BELOW_THRESHOLD, append_step_summary, below_threshold, below_threshold_message
from grader.cli import console
from grader.cli.base import (
    complete_challenge,
    main,
    make_sandbox,
    report_formats,
    resolve_as_of_option,
    service_url_option,
    size_option,
)
from grader.cli.console import (
    EXIT_CANNOT_RUN,
    EXIT_SOME_ERRORED,
    EXIT_USAGE,
    SpinnerProgress,
    err,
    escape,
    fail,
    friendly_errors,
    out,
    print_summary,
    progress,
)
from grader.cli.distributed import (
    MIB,
    artifacts_endpoint_option,
    artifacts_option,
    broker_option,
    max_artifact_option,
    queue_option,
)
from grader.cohort import SkippedEntry
from grader.models import Challenge, GradeResult
from grader.outdir import as_output_error, check_output_dir
from grader.pipeline import GradingOptions, challenge_services
from grader.results import result_path
from grader.reviews import Adjustment
from grader.sandbox.base import Sandbox


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
@click.option("--cache-max-size", "cache_max_size", envvar="GRADER_CACHE_MAX_SIZE", default=None, metavar="SIZE",
              help="Keep the grader's cache (wheels, environments, images) within SIZE (e.g. 20GiB) during the batch: "
                   "the least recently used entries go, never what a running grading may use. Default: no limit.")
@broker_option(required=False)
@queue_option
@max_artifact_option
@artifacts_option
@artifacts_endpoint_option
@friendly_errors
def grade(
    submissions: tuple[Path, ...], challenge_ref: str, sandbox_kind: str, out_dir: Path, formats: tuple[str, ...],
    force: bool, fail_under: float | None, jobs: int | None, service_urls: dict[str, str],
    resolve_as_of: datetime | Literal["now"] | None, root: str | None, cache_max_size: str | None,
    broker_url: str | None, queue: str, max_artifact_mb: int, artifacts_url: str | None,
    artifacts_endpoint: str | None,
) -> None:
    """Grade SUBMISSIONS (directories, zip or tar (gz, bz2, xz) archives or git repositories, or folders of them).

    A folder with no .py file, no project file (pyproject.toml, requirements.txt, ...) and no .git at its
    top level is a cohort folder: its subdirectories and archives are the submissions; its other entries
    are listed, with the reason, as not graded. A result already in OUT is reused when the submission, the
    challenge and the grader are unchanged. With --broker (or GRADER_BROKER_URL) the workers on other hosts
    grade them (`grader worker`; docs/distributed.md) and the results come back to OUT; --artifacts
    s3://BUCKET/PREFIX carries the archives through a bucket instead of the broker's Redis.
    """
    check_output_dir(out_dir)  # an unwritable or full --out is one sentence now, not after the grading
    challenge = load_challenge(challenge_ref)
    survey = survey_submissions(submissions)
    show_skipped(survey)
    sources = survey.submissions
    if not sources:
        listed = "; every entry was skipped, for the reasons above" if survey.skipped else ""
        fail(f"no submission found in the given folder(s){listed}", 2)
    options = GradingOptions(resolve_as_of, root)
    max_cache_bytes = size_option("--cache-max-size", cache_max_size)
    if artifacts_given_alone(broker_url, artifacts_endpoint):  # $GRADER_ARTIFACTS_URL alone is no error
        fail("--artifacts and --artifacts-endpoint are for grading on workers: give --broker URL too", EXIT_USAGE)
    if broker_url:
        if jobs or sandbox_kind != "auto" or service_urls:
            err.print("[yellow]warning:[/] -j, --sandbox and --service-url are ignored with --broker: each worker's "
                      "own `grader worker --concurrency N --sandbox KIND` decides", markup=True, soft_wrap=True)
        store = ArtifactsChoice(artifacts_url, artifacts_endpoint, max_artifact_mb)
        batch = grade_remote(sources, challenge, out_dir, force, options, broker_url, queue, store)
    else:
        sandbox = make_sandbox(sandbox_kind, challenge.python, service_urls)
        sandbox.describe_services(challenge_services(challenge))  # the images, or a missing URL, once up front
        batch = grade_batch(sources, challenge, sandbox, out_dir, force, jobs, options,
                            cache_limit(sandbox, max_cache_bytes))
    if batch.output_error is not None:
        fail(escape(str(batch.output_error)), EXIT_USAGE)
    finished = [item for item in batch.items if item.result is not None]
    results = [item.result for item in finished if item.result is not None]
    if len(finished) > 1:
        compare_cohort(out_dir, challenge)
    write_grade_reports([out_dir / item.name for item in finished], out_dir, formats, survey.skipped)
    record_cohort(out_dir, survey)
    append_step_summary(results, skipped=survey.skipped)
    if batch.interrupted:
        fail(f"interrupted: running sandboxes were removed; {len(finished)} finished result(s) are kept", 130)
    errored = sum(result.status != "graded" for result in results)
    if errored:
        fail(f"{errored} of {len(sources)} submission(s) could not be graded (see above)", EXIT_SOME_ERRORED)
    enforce_fail_under(results, fail_under)


def cache_limit(sandbox: Sandbox, max_bytes: int | None) -> CacheLimit | None:
    """The batch's cache size, with the engine's images when the sandbox is Docker's."""
    if max_bytes is None:
        return None
    from grader.sandbox.docker import DockerSandbox
    from grader.sandbox.images import EngineImages

    engine_images = EngineImages(sandbox.engine) if isinstance(sandbox, DockerSandbox) else None
    return CacheLimit(max_bytes, engine_images)


def compare_cohort(out_dir: Path, challenge: Challenge) -> None:
    """After grading more than one submission: compare them (OUT/similarity.json and the pair pages)."""
    from grader.report.similarity_pages import write_similarity_pages
    from grader.similarity.cohort import compare_out_dir, write_similarity

    comparison, _left_out = compare_out_dir(out_dir, challenge, challenge.similarity)
    write_similarity(out_dir, comparison, _left_out)
    write_similarity_pages(out_dir, comparison)
    flagged = comparison.flagged()
    if flagged:
        progress(f"similarity: {len(flagged)} pair(s) share at least {challenge.similarity.threshold:.0%} of one "
                 f"submission's code, worth a look side by side (OUT/similarity.json, index.html)")


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
    options: GradingOptions | None = None, limit: CacheLimit | None = None,
) -> Batch:
    """Grade `sources` in parallel with a progress display (a live table on a terminal, lines otherwise)."""
    if jobs and jobs > 1 and not sandbox.concurrent_runs:
        err.print("[yellow]warning:[/] the local backend grades one submission at a time", markup=True)
    batch = plan_batch(sources, jobs if jobs and sandbox.concurrent_runs else default_jobs(sandbox))
    display = _display_for_batch()
    if isinstance(display, LiveDisplay):
        from grader.sandbox.docker import DockerSandbox

        if isinstance(sandbox, DockerSandbox):  # image builds show under the table, not as scrolling lines
            sandbox.log = lambda message: display.log(None, message)
    runner = Runner(challenge, sandbox, out_dir, force, display, options=options or GradingOptions(),
                    cache_limit=limit)
    live = isinstance(display, LiveDisplay)  # the table shows each result; the summary lines follow it

    def finished(item: BatchItem) -> None:
        if item.result is not None and not live:
            print_summary(item.result, out_dir, item.name)

    run_batch(batch, runner, finished)
    for item in batch.items if live else []:
        if item.result is not None:
            print_summary(item.result, out_dir, item.name)
    return batch


def artifacts_given_alone(broker_url: str | None, artifacts_endpoint: str | None) -> bool:
    """Whether --artifacts (on the command line) or --artifacts-endpoint came without a broker."""
    if broker_url:
        return False
    source = click.get_current_context().get_parameter_source("artifacts_url")
    return artifacts_endpoint is not None or source == click.core.ParameterSource.COMMANDLINE


@dataclass(frozen=True)
class ArtifactsChoice:
    """Where the archives of a grading on workers go: the broker's Redis (no URL) or `--artifacts URL`."""

    url: str | None
    endpoint: str | None
    max_mb: int


def grade_remote(
    sources: list[Path], challenge: Challenge, out_dir: Path, force: bool, options: GradingOptions, broker_url: str,
    queue: str, store: ArtifactsChoice,
) -> Batch:
    """Send `sources` to the workers behind `broker_url` and collect their results, with the same display."""
    from grader.distributed.artifacts import ArtifactError
    from grader.distributed.coordinator import RemoteBatch, run_remote_batch
    from grader.distributed.protocol import BrokerError

    batch = plan_batch(sources, 1)
    display = _display_for_batch()
    remote = RemoteBatch(challenge, out_dir, broker_url, queue, force, display, options, store.max_mb * MIB,
                         store.url, store.endpoint)
    live = isinstance(display, LiveDisplay)

    def finished(item: BatchItem) -> None:
        if item.result is not None and not live:
            print_summary(item.result, out_dir, item.name)

    try:
        run_remote_batch(batch, remote, finished)
    except (BrokerError, ArtifactError) as exc:  # the broker or the artifact store, before anything was sent
        fail(escape(str(exc)), EXIT_CANNOT_RUN)
    for item in batch.items if live else []:
        if item.result is not None:
            print_summary(item.result, out_dir, item.name)
    return batch


def _display_for_batch() -> Display:
    """Plain lines with -v and -q (every one with -v, none with -q), else the live table on a terminal."""
    quiet_or_verbose = console.settings.verbose or console.settings.quiet
    return PlainDisplay(progress) if quiet_or_verbose else make_display(err, progress)


def enforce_fail_under(results: list[GradeResult], threshold: float | None) -> None:
    """`--fail-under`: exit 4 naming every graded submission whose overall score is below the threshold."""
    low = [] if threshold is None else below_threshold(results, threshold)
    if threshold is not None and low:
        fail(below_threshold_message(low, threshold), EXIT_BELOW_THRESHOLD)


@main.command()
def schema() -> None:
    """Print the JSON Schema of result.json."""
    click.echo(json.dumps(GradeResult.model_json_schema(), indent=2))


def write_grade_reports(
    directories: list[Path], out_dir: Path, formats: tuple[str, ...], skipped: Sequence[SkippedEntry] = (),
) -> None:
    """After `grade`: render the chosen reports from the result.json files just written (in `directories`);
    the cohort reports also list the cohort folders' entries that were not graded (`skipped`)."""
    if not set(formats) - {"json"} or not directories:
        return
    from grader.report import load_results, write_reports
    from grader.reviews import load_reviews

    # a re-grading keeps the reviewers' adjustments: applied to unchanged content, flagged on changed content
    written = write_reports(load_results(directories), out_dir, formats, "reviewer", skipped,
                            adjustments=load_reviews(out_dir))
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
    help="candidate: hidden tests as per-category totals (no names, messages, code or logs); static "
         "findings with file:line and what to do.",
)
@click.option("--compare", is_flag=True,
              help="Compare the 2 or 3 given results side by side in OUT/compare.html (reviewer only).")
@friendly_errors
def report(paths: tuple[Path, ...], out_dir: Path, formats: tuple[str, ...], audience: str, compare: bool) -> None:
    """Render reports from RESULT_OR_DIR... (result.json files, or directories searched for them).

    With --compare: the 2 or 3 results side by side (categories, hidden tests, losses) in OUT/compare.html.
    """
    from grader.cohort import skipped_in
    from grader.report import ReportError, load_results, write_reports
    from grader.reviews import ReviewFileError

    check_output_dir(out_dir)
    problems: list[str] = []
    results = load_results(paths, on_error=problems.append)
    if not results and len(problems) == 1:
        fail(problems[0])
    for problem in problems:
        err.print(f"[bold red]error:[/] {escape(problem)}", markup=True, soft_wrap=True)
    if not results:
        fail(f"none of the {len(problems)} path(s) held a readable result.json; nothing was rendered")
    if compare:
        write_compare(results, paths, out_dir, audience)
        return
    skipped = skipped_in(path for path in paths if path.is_dir())  # from `grade`'s OUT/cohort.json
    try:
        adjustments = reviews_beside(paths, out_dir)
        if audience != "candidate":
            carry_similarity(paths, out_dir)
        written = write_reports(results, out_dir, formats, "candidate" if audience == "candidate" else "reviewer",
                                skipped, adjustments=adjustments)
    except (ReportError, ReviewFileError, OSError) as exc:
        disk = as_output_error(exc, out_dir)
        fail(escape(str(disk) if disk else f"could not write the reports: {exc}"),
             EXIT_USAGE if disk else EXIT_CANNOT_RUN)
    for path in written:
        out.print(escape(str(path)), highlight=False, soft_wrap=True)
    if problems:
        fail(f"{len(problems)} path(s) could not be read; {len(results)} result(s) were rendered", EXIT_SOME_ERRORED)


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
    from grader.candidate_check import load_check_challenge, render_check, run_check, write_check_report
    from grader.intake import submission_name
    from grader.paths import cache_dir

    out_root = out_dir or cache_dir("check")
    check_output_dir(out_root)
    bundle = load_check_challenge(challenge_ref, path)
    # image builds and steps turn a spinner, not the candidate's scrollback (-v prints every line)
    with SpinnerProgress(err, f"checking {path} against {bundle.id}") as log:
        sandbox_backend = make_sandbox(sandbox_kind, bundle.python, service_urls, log=log)
        result = run_check(path, bundle, sandbox_backend, out_root, log)
    name = result.submission.name if result.submission else submission_name(path)
    report = write_check_report(result, out_root / name)
    render_check(result, result_path(out_root / name), out, report)
    if result.status != "graded":
        sys.exit(EXIT_SOME_ERRORED)


def reviews_beside(paths: Sequence[Path], out_dir: Path) -> list[Adjustment]:
    """The reviewers' adjustments in the reviews.toml of each given directory and of OUT, each file once."""
    from grader.reviews import load_reviews

    folders = dict.fromkeys(path.resolve() for path in [*paths, out_dir] if path.is_dir())
    return [adjustment for folder in folders for adjustment in load_reviews(folder)]


def carry_similarity(paths: Sequence[Path], out_dir: Path) -> None:
    """Bring the comparison of the given output folder (similarity.json and its pair pages) into OUT, so the
    re-rendered cohort page shows the same section and its links work; OUT's own comparison wins."""
    from grader.similarity.cohort import copy_similarity

    for folder in dict.fromkeys(path.resolve() for path in paths if path.is_dir()):
        if copy_similarity(folder, out_dir):
            return


def write_compare(results: Sequence[GradeResult], paths: Sequence[Path], out_dir: Path, audience: str) -> None:
    """`report --compare`: OUT/compare.html for 2 or 3 results, with the reviews beside them."""
    from grader.outdir import write_atomically
    from grader.report import ReportError, render_compare_html

    if audience == "candidate":
        fail("--compare shows several candidates at once: it has no candidate audience", EXIT_USAGE)
    try:
        html = render_compare_html(results, reviews_beside(paths, out_dir))
    except ReportError as exc:
        fail(escape(str(exc)), EXIT_USAGE)
    out_dir.mkdir(parents=True, exist_ok=True)
    out.print(escape(str(write_atomically(out_dir / "compare.html", html))), highlight=False, soft_wrap=True)
