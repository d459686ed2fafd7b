"""Reading results for reports and writing the report files: `OUT/<name>/` per result and the cohort files
at the top, each written atomically.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from grader.cohort import SkippedEntry
from grader.models import (
    GradeResult,
)
from grader.outdir import write_atomically
from grader.report.cohort_view import cohort_rows
from grader.report.compare_view import MAX_COMPARED, render_compare_html
from grader.report.facts import AUDIENCES, Audience, ReportError, redact_for_candidate, unique_dir_names
from grader.report.render import (
    render_candidate_html,
    render_cohort_html,
    render_cohort_markdown,
    render_junit,
    render_markdown,
)
from grader.report.similarity_pages import cohort_section, similar_to
from grader.results import ResultFileError, find_result_files, load_result, result_json, write_result
from grader.reviews import Adjustment
from grader.similarity.cohort import read_similarity

FORMATS: tuple[str, ...] = ("html", "json", "md", "junit")
DEFAULT_FORMATS: tuple[str, ...] = ("json", "html")

CANDIDATE_JSON = "result.candidate.json"  # never written over the full result.json it was made from
REPORT_FILES = {"html": "report.html", "md": "summary.md", "junit": "junit.xml"}
COHORT_FILES = {"html": "index.html", "md": "summary.md", "junit": "junit.xml"}


ErrorSink = Callable[[str], None]


# --- loading ------------------------------------------------------------------------------------------


def load_results(paths: Iterable[Path], on_error: ErrorSink | None = None) -> list[GradeResult]:
    """Results from files or directories (searched for `result.json`).

    A bad path or file is reported once through `on_error`, naming it, and the rest are loaded; without
    `on_error` the first problem raises `ReportError`.
    """
    results: list[GradeResult] = []
    for path in paths:
        try:
            files = find_result_files(path)
        except ResultFileError as exc:
            _report(exc, on_error)
            continue
        for file in files:
            try:
                results.append(load_result(file))
            except ResultFileError as exc:
                _report(exc, on_error)
    return results


def _report(exc: ResultFileError, on_error: ErrorSink | None) -> None:
    if on_error is None:
        raise ReportError(str(exc)) from exc
    on_error(str(exc))


def parse_formats(text: str) -> tuple[str, ...]:
    """`"html,md"` -> `("html", "md")`, in the given order without repeats; unknown names are an error."""
    names = [part.strip().lower() for part in text.split(",") if part.strip()]
    unknown = [name for name in names if name not in FORMATS]
    if unknown or not names:
        shown = ", ".join(unknown) if unknown else "nothing"
        raise ReportError(f"unknown report format {shown!s}; choose from {', '.join(FORMATS)}")
    return tuple(dict.fromkeys(names))


# --- writing -------------------------------------------------------------------------------------------------


def write_reports(
    results: Sequence[GradeResult], out_dir: Path, formats: Iterable[str] = DEFAULT_FORMATS,
    audience: Audience = "reviewer", skipped: Sequence[SkippedEntry] = (), adjustments: Sequence[Adjustment] = (),
) -> list[Path]:
    """Write each result's reports to `out_dir/<name>/` and, for more than one result or when a cohort
    folder had entries that were not graded (`skipped`), the cohort files, which list those entries.

    html -> report.html (+ index.html), md -> summary.md, junit -> junit.xml, json -> result.json as
    graded. The candidate audience gets a redacted `result.candidate.json` (never over the full result)
    and no cohort files, which would show one candidate the others. `adjustments` (the reviewers', from
    `reviews.toml`) appear in the reviewer copy's report.html; result.json stays as graded. Returns the paths
    written.
    """
    chosen = parse_formats(",".join(formats))
    if audience not in AUDIENCES:
        raise ReportError(f"unknown audience {audience!r}; choose from {', '.join(AUDIENCES)}")
    names = unique_dir_names(results)
    similarity = read_similarity(out_dir) if audience == "reviewer" else None  # names other candidates
    written: list[Path] = []
    for result, name in zip(results, names, strict=True):
        similar = [{**link, "page": f"../{link['page']}" if link["page"] else None}
                   for link in similar_to(similarity, name)]
        written += _write_candidate(result, out_dir / name, chosen, audience, adjustments, similar)
    if (len(results) > 1 or skipped) and audience == "reviewer":  # would show a candidate the others
        section = cohort_section(similarity, set(names))
        written += _write_cohort(results, names, out_dir, chosen, skipped, section)
        if "html" in chosen:
            written += _write_top_compare(results, out_dir, adjustments)
    return written


def _write_candidate(result: GradeResult, directory: Path, formats: Sequence[str], audience: Audience,
                     adjustments: Sequence[Adjustment] = (), similar: Sequence[dict[str, Any]] = ()) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    shown = redact_for_candidate(result) if audience == "candidate" else result
    renderers: dict[str, Callable[[], str]] = {
        "html": lambda: render_candidate_html(result, audience, adjustments, similar),
        "md": lambda: render_markdown(result, audience),
        "junit": lambda: render_junit([shown]),
    }
    written = []
    for fmt in formats:
        if fmt == "json":
            written.append(_write_json(result, shown, directory, audience))
        else:
            written.append(_write_text(directory / REPORT_FILES[fmt], renderers[fmt]()))
    return written


def _write_json(result: GradeResult, shown: GradeResult, directory: Path, audience: Audience) -> Path:
    if audience == "candidate":
        return _write_text(directory / CANDIDATE_JSON, result_json(shown))
    return write_result(result, directory)


def _write_cohort(
    results: Sequence[GradeResult], names: Sequence[str], out_dir: Path, formats: Sequence[str],
    skipped: Sequence[SkippedEntry] = (), similarity: dict[str, Any] | None = None,
) -> list[Path]:
    links = [f"{name}/{REPORT_FILES['html']}" for name in names]
    renderers: dict[str, Callable[[], str]] = {
        "html": lambda: render_cohort_html(results, links, skipped, similarity),
        "md": lambda: render_cohort_markdown(results, skipped),
        "junit": lambda: render_junit(results),
    }
    return [_write_text(out_dir / COHORT_FILES[fmt], renderers[fmt]()) for fmt in formats if fmt in renderers]


TOP_COMPARE = "compare-top.html"  # linked from the leaderboard; `report --compare` writes compare.html


def _write_top_compare(results: Sequence[GradeResult], out_dir: Path,
                       adjustments: Sequence[Adjustment]) -> list[Path]:
    """The leaderboard's compare view: its top 2 or 3 graded results side by side (none for fewer than 2)."""
    graded = [row.result for row in cohort_rows(results, [])  # in the leaderboard's order
              if row.result.status == "graded" and row.result.overall is not None][:MAX_COMPARED]
    if len(graded) < 2:
        return []
    return [_write_text(out_dir / TOP_COMPARE, render_compare_html(graded, adjustments))]


def _write_text(path: Path, text: str) -> Path:
    """Write atomically: a reader never sees half a report. A full or read-only disk raises OutputError."""
    return write_atomically(path, text)
