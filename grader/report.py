"""Reports rendered from `result.json` files only: candidate and cohort HTML, Markdown, JUnit XML and JSON.

Nothing here grades: every report is a pure function of results already written, so `grader report` can
re-render at any time. Templates live in the shipped `reports/` directory (Jinja2, autoescaping on for
HTML and XML, undefined names are errors). Everything a candidate wrote (names, test output, file names,
log tails, messages) is untrusted text: it reaches the page only through autoescaping, and each HTML page
also carries a Content-Security-Policy that forbids any fetch and any script but the report's own.

The `candidate` audience renders from a redacted copy of the result (`redact_for_candidate`) that holds
no hidden-test names, messages, evidence or logs, so no template can leak them by mistake.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import itertools
import re
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from grader.app_log import not_ready_sentence
from grader.cohort import SkippedEntry
from grader.models import (
    CATEGORY_IDS,
    HIDDEN_SUITE,
    AppRun,
    Bands,
    CategoryScore,
    CheckResult,
    CheckStatus,
    Deduction,
    Finding,
    GradeResult,
    TestCase,
    category_title,
)
from grader.outdir import write_atomically
from grader.paths import resource_dir
from grader.results import ResultFileError, find_result_files, load_result, result_json, write_result

Audience = Literal["reviewer", "candidate"]
AUDIENCES: tuple[Audience, ...] = ("reviewer", "candidate")
FORMATS: tuple[str, ...] = ("html", "json", "md", "junit")
DEFAULT_FORMATS: tuple[str, ...] = ("json", "html")

CANDIDATE_JSON = "result.candidate.json"  # never written over the full result.json it was made from
REPORT_FILES = {"html": "report.html", "md": "summary.md", "junit": "junit.xml"}
COHORT_FILES = {"html": "index.html", "md": "summary.md", "junit": "junit.xml"}

CANDIDATE_TESTS_PREFIX = "candidate_tests"
SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}
MAX_FINDINGS_SHOWN = 25
MAX_MESSAGE_CHARS = 2000
MAX_LOG_LINES = 80
TOP_DEDUCTIONS = 5

ErrorSink = Callable[[str], None]


class ReportError(Exception):
    """A report could not be made: an unreadable result file, an unknown format, a path that is not there."""


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


# --- facts about a result ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Band:
    """A hiring band: a label and a CSS class."""

    key: str
    label: str


NOT_SCORED = Band("none", "Not scored")
DID_NOT_RUN = Band("did-not-run", "Did not run")  # graded, but no one could use the app: no hiring band applies


def result_bands(result: GradeResult) -> Bands:
    """The band thresholds the challenge set, carried in the result; the defaults for older results."""
    return result.bands if result.bands is not None else Bands()


def band_for(score: float | None, bands: Bands) -> Band:
    """The band an overall score falls in."""
    if score is None:
        return NOT_SCORED
    if score >= bands.strong_hire:
        return Band("strong-hire", "Strong hire")
    if score >= bands.hire:
        return Band("hire", "Hire")
    if score >= bands.lean_no:
        return Band("lean-no", "Lean no")
    return Band("no", "No")


def result_band(result: GradeResult) -> Band:
    """The band of a graded result: `Did not run` when the app never became ready, else by its overall score
    (`Not scored` for errors and unscored results)."""
    if result.status != "graded":
        return NOT_SCORED
    if result.did_not_run:
        return DID_NOT_RUN
    return band_for(result.overall, result_bands(result))


def not_run_reason(result: GradeResult) -> str:
    """Why the app never became ready, as one sentence (empty when it ran or was not graded)."""
    if not result.did_not_run:
        return ""
    return not_ready_sentence(result.app.problem if result.app else None) + "."


def display_name(result: GradeResult) -> str:
    """The submission's name as the grader recorded it, else the directory its result was read from."""
    if result.submission is not None:
        return result.submission.name
    origin = getattr(result, "origin", None)
    if isinstance(origin, Path):
        return origin.resolve().parent.name
    return "submission"


def safe_dir_name(name: str) -> str:
    """A file-system-safe directory name (result files may be edited by hand)."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip(".-")
    return cleaned[:64].rstrip(".-") or "submission"


def unique_dir_names(results: Sequence[GradeResult]) -> list[str]:
    """One distinct, safe directory name per result, in order (`name`, `name-2`, ...)."""
    seen: dict[str, int] = {}
    names: list[str] = []
    for result in results:
        base = safe_dir_name(display_name(result))
        seen[base] = seen.get(base, 0) + 1
        names.append(base if seen[base] == 1 else f"{base}-{seen[base]}")
    return names


def challenge_title(result: GradeResult) -> str:
    """The challenge's title, else its id."""
    return result.challenge.get("title") or result.challenge.get("id") or "unknown challenge"


def redact_for_candidate(result: GradeResult) -> GradeResult:
    """A copy fit to share with the candidate: scores and totals only.

    Removed: hidden-test names, ids and messages (each test keeps only its category and outcome, so
    totals still add up), findings and deductions (code excerpts, test names as evidence), review notes
    (interview questions), the app's log and the submission's source path.
    """
    checks = [
        check.model_copy(update={"findings": [], "deductions": [], "tests": _anonymous_tests(check.tests)})
        for check in result.checks
    ]
    submission = result.submission
    if submission is not None:
        submission = submission.model_copy(update={"findings": [], "source": submission.name})
    app = result.app.model_copy(update={"log_tail": "", "log_truncated": False}) if result.app else None
    update: dict[str, Any] = {"checks": checks, "submission": submission, "app": app, "review": None}
    return result.model_copy(update=update)


def _anonymous_tests(tests: Sequence[TestCase]) -> list[TestCase]:
    return [
        TestCase(name=f"hidden test {index}", nodeid="", category=test.category, outcome=test.outcome)
        for index, test in enumerate(tests, start=1)
    ]


# --- formatting helpers (also Jinja filters) ---------------------------------------------------------------


def fmt_number(value: float | None, digits: int = 1) -> str:
    """`81.0` -> `81`, `81.25` -> `81.3`, None -> `n/a`."""
    if value is None:
        return "n/a"
    text = f"{value:.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def fmt_seconds(value: float | None) -> str:
    """Seconds for people: `0.32 s`, `12.4 s`, `2 min 05 s`."""
    if value is None:
        return "n/a"
    if value < 10:
        return f"{value:.2f} s"
    if value < 120:
        return f"{value:.1f} s"
    minutes, seconds = divmod(round(value), 60)
    return f"{minutes} min {seconds:02d} s"


def fmt_when(value: str) -> str:
    """`2026-11-26T01:53:33+00:00` -> `2026-11-26 01:53 UTC`; anything else unchanged."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.utcoffset() == timedelta(0):
        return moment.strftime("%Y-%m-%d %H:%M UTC")
    return moment.strftime("%Y-%m-%d %H:%M %z")


HEAT_STOPS: tuple[tuple[float, tuple[int, int, int]], ...] = (
    (0.0, (244, 199, 195)),
    (50.0, (252, 232, 178)),
    (100.0, (183, 225, 205)),
)


def heat_color(score: float | None) -> str:
    """A light background colour for a 0-100 score: red, amber, green; grey when not scored."""
    if score is None:
        return "#eef0f3"
    value = min(100.0, max(0.0, score))
    for (low, low_rgb), (high, high_rgb) in itertools.pairwise(HEAT_STOPS):
        if value <= high:
            share = (value - low) / (high - low)
            rgb = (round(a + (b - a) * share) for a, b in zip(low_rgb, high_rgb, strict=True))
            return "#" + "".join(f"{channel:02x}" for channel in rgb)
    return "#b7e1cd"


def clip(text: str | None, limit: int = MAX_MESSAGE_CHARS) -> str:
    """At most `limit` characters, with a marker when cut."""
    if not text:
        return ""
    return text if len(text) <= limit else text[:limit] + f"\n… ({len(text) - limit} more characters)"


def one_line(text: str | None, limit: int = 160) -> str:
    """The first line of `text`, at most `limit` characters (ellipsis when cut)."""
    first = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    return first if len(first) <= limit else first[: limit - 1] + "…"


def log_excerpt(log: str, lines: int = MAX_LOG_LINES) -> str:
    """The last `lines` lines of a log."""
    kept = log.rstrip("\n").splitlines()[-lines:]
    return "\n".join(kept)


_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def xml_text(value: object) -> str:
    """Text with the characters XML 1.0 forbids (ANSI escapes, NUL, ...) removed; escaping is Jinja's."""
    return _XML_INVALID.sub("", "" if value is None else str(value))


def md_text(value: object, limit: int = 200) -> str:
    """Untrusted text made inert for Markdown: one line, no HTML, no table breaks, no links or emphasis."""
    text = " ".join(("" if value is None else str(value)).split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return re.sub(r"([\\`*_\[\]|~])", r"\\\1", text)


def md_code(value: object, limit: int = 80) -> str:
    """Untrusted text for inside a Markdown code span: one line, no backticks or table pipes."""
    text = " ".join(("" if value is None else str(value)).split()).replace("`", "'").replace("|", "/")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def app_problem(app: AppRun) -> str:
    """`The app did not start: exited with code 3 ...`, whatever the recorded wording."""
    return not_ready_sentence(app.problem) + "."


def location(finding: Finding) -> str:
    """`file:line`, `file` or an empty string."""
    if not finding.file:
        return ""
    return f"{finding.file}:{finding.line}" if finding.line is not None else finding.file


def metric_label(name: str) -> str:
    """`coverage_percent` -> `coverage percent`."""
    return name.replace("_", " ")


# --- candidate view -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChartBar:
    """One category row of the weights chart, in SVG user units."""

    title: str
    weight: float
    score: float | None
    y: float
    track: float
    fill: float
    color: str
    counts_as_zero: bool = False  # not measured because the app never ran, counted as 0


@dataclass(frozen=True)
class Chart:
    """Geometry of the category chart: each track is as long as the weight, filled as far as the score."""

    width: int
    height: int
    label_width: int
    bars: list[ChartBar]


CHART_WIDTH = 900
CHART_LABEL = 200
CHART_TRACK = 560
CHART_ROW = 40


def category_chart(categories: Sequence[CategoryScore]) -> Chart:
    """A bar per category: track length proportional to its weight, fill to its score."""
    heaviest = max((c.weight for c in categories), default=0) or 1
    bars = []
    for index, category in enumerate(categories):
        track = CHART_TRACK * category.weight / heaviest
        fill = track * (category.score or 0) / 100 if category.evaluated else 0.0
        counted = category.evaluated or category.counts_as_zero
        bars.append(ChartBar(
            title=category_title(category.id), weight=category.weight, score=category.score if counted
            else None, y=12 + index * CHART_ROW, track=round(track, 1), fill=round(fill, 1),
            color=_bar_color(category.score if counted else None), counts_as_zero=category.counts_as_zero,
        ))
    return Chart(CHART_WIDTH, 24 + len(bars) * CHART_ROW, CHART_LABEL, bars)


BAND_COLORS = {"strong-hire": "#1e8e5a", "hire": "#4caf7d", "lean-no": "#e0a030", "no": "#d0543c",
               "did-not-run": "#7a2219", "none": "#c5cbd3"}


def _bar_color(score: float | None) -> str:
    if score is None:
        return "#c5cbd3"
    if score >= 85:
        return "#1e8e5a"
    if score >= 70:
        return "#4caf7d"
    if score >= 50:
        return "#e0a030"
    return "#d0543c"


@dataclass
class CategoryView:
    """Everything the report says about one scorecard category."""

    score: CategoryScore
    title: str
    checks: list[CheckResult] = field(default_factory=list)
    deductions: list[Deduction] = field(default_factory=list)
    failed_tests: list[TestCase] = field(default_factory=list)
    passed_tests: list[TestCase] = field(default_factory=list)
    skipped_tests: list[TestCase] = field(default_factory=list)
    test_points: dict[str, float] = field(default_factory=dict)  # points a failed hidden test cost

    @property
    def lost_points(self) -> float:
        """Sum of the category's deductions."""
        return sum(d.points for d in self.deductions)


def category_views(result: GradeResult) -> list[CategoryView]:
    """The six categories (in scorecard order) with their checks, deductions and hidden tests."""
    scores = {c.id: c for c in result.categories}
    order = [*CATEGORY_IDS, *(c for c in scores if c not in CATEGORY_IDS)]
    views = {cid: CategoryView(score=scores.get(cid) or _unmeasured(cid), title=category_title(cid)) for cid in order}
    for check in result.checks:
        view = views.get(check.category)
        if view is not None:
            view.checks.append(check)
        test_names = {test.name for test in check.tests}
        for deduction in check.deductions:
            target = views.get(deduction.category) or view
            if target is None:
                continue
            if deduction.rule in test_names:  # shown with the failed test and its message instead
                target.test_points[deduction.rule] = target.test_points.get(deduction.rule, 0) + deduction.points
            else:
                target.deductions.append(deduction)
        for test in check.tests:
            _file_test(views.get(test.category) or view, test)
    for view in views.values():
        view.deductions.sort(key=lambda d: -d.points)
    return [v for v in views.values() if v.score.id in scores or v.checks]


def _unmeasured(category_id: str) -> CategoryScore:
    return CategoryScore(id=category_id, weight=0, score=None, evaluated=False)


def _file_test(view: CategoryView | None, test: TestCase) -> None:
    if view is None:
        return
    if test.outcome in ("failed", "error"):
        view.failed_tests.append(test)
    elif test.outcome == "passed":
        view.passed_tests.append(test)
    else:
        view.skipped_tests.append(test)


@dataclass(frozen=True)
class FindingGroup:
    """A check's findings, worst first, capped for the page."""

    check: CheckResult
    findings: list[Finding]
    hidden_count: int


def finding_groups(result: GradeResult) -> list[FindingGroup]:
    """Code findings of the static checks (hidden-test failures are shown with their category)."""
    groups = []
    for check in result.checks:
        if check.suite == HIDDEN_SUITE or not check.findings:
            continue
        ordered = sorted(check.findings, key=_finding_rank)
        shown = ordered[:MAX_FINDINGS_SHOWN]
        groups.append(FindingGroup(check, shown, len(ordered) - len(shown)))
    return sorted(groups, key=lambda group: _hotspot_rank(group.check.id))


HOTSPOT_ORDER = ("complexity", "typecheck", "lint", "practices")


def _hotspot_rank(check_id: str) -> tuple[int, str]:
    """Most complex functions first, then type and lint findings, then everything else."""
    tool = check_id.split("/", 1)[0]
    return (HOTSPOT_ORDER.index(tool) if tool in HOTSPOT_ORDER else len(HOTSPOT_ORDER), check_id)


def _finding_rank(finding: Finding) -> tuple[int, str, int]:
    return (SEVERITY_ORDER.get(str(finding.severity), 3), finding.file or "", finding.line or 0)


def candidate_test_checks(result: GradeResult) -> list[CheckResult]:
    """The checks that ran the candidate's own tests (coverage and pass rate in their metrics)."""
    return [c for c in result.checks if c.id.startswith(CANDIDATE_TESTS_PREFIX)]


def top_deductions(result: GradeResult, limit: int = TOP_DEDUCTIONS) -> list[Deduction]:
    """The largest deductions across all checks; for an app that did not run, the static ones only (every
    failed test has the one reason the report leads with)."""
    every = [d for check in result.checks for d in check.deductions
             if not (result.did_not_run and check.suite is not None)]
    return sorted(every, key=lambda d: -d.points)[:limit]


def _weights_summary(result: GradeResult) -> tuple[list[str], list[str]]:
    evaluated = [category_title(c.id) for c in result.categories if c.evaluated]
    missing = [category_title(c.id) for c in result.categories
               if not c.evaluated and not c.counts_as_zero and c.weight > 0]
    return evaluated, missing


def zeroed_titles(result: GradeResult) -> list[str]:
    """The categories counted as 0 because the app never ran."""
    return [category_title(c.id) for c in result.categories if c.counts_as_zero]


def candidate_context(result: GradeResult, audience: Audience) -> dict[str, Any]:
    """Everything `candidate.html` needs."""
    shown = redact_for_candidate(result) if audience == "candidate" else result
    evaluated, missing = _weights_summary(shown)
    passed, run = shown.test_totals()
    app: AppRun | None = shown.app
    return {
        "audience": audience,
        "result": shown,
        "name": display_name(result),
        "challenge_title": challenge_title(result),
        "band": result_band(shown),
        "bands": result_bands(shown),
        "evaluated_titles": evaluated,
        "missing_titles": missing,
        "hidden_passed": passed,
        "hidden_run": run,
        "chart": category_chart(shown.categories),
        "categories": category_views(shown),
        "finding_groups": finding_groups(shown),
        "candidate_tests": candidate_test_checks(shown),
        "review": shown.review,
        "app": app,
        "app_log": log_excerpt(app.log_tail) if app and not app.started and app.log_tail else "",
        "local_backend": shown.sandbox is not None and not shown.sandbox.isolated,
        "deduction_count": sum(len(c.deductions) for c in shown.checks),
        "timings": timings_text(shown),
        "app_down": app is not None and not app.started,
        "did_not_run": shown.did_not_run,
        "not_run_reason": not_run_reason(shown),
        "zeroed_titles": zeroed_titles(shown),
        **lost_points(shown),
    }


def lost_points(result: GradeResult, limit: int = TOP_DEDUCTIONS) -> dict[str, Any]:
    """The largest deductions, or (when nothing was deducted) the failed hidden tests, for the summary."""
    every = [d for check in result.checks for d in check.deductions]
    failed = result.failed_tests()
    listed = len(every) if every else len(failed)
    return {
        "top_deductions": top_deductions(result, limit),
        "failed_tests": [] if every else failed[:limit],
        "more_lost": max(0, listed - limit),
    }


def timings_text(result: GradeResult) -> str:
    """`intake 0.12 s · environment 3.40 s · ... · total 9.10 s`, from whatever steps the result timed."""
    steps = {key.removesuffix("_s"): value for key, value in result.timings.model_dump().items()
             if key.endswith("_s") and isinstance(value, int | float)}
    total = steps.pop("total", None)
    parts = [f"{step.replace('_', ' ')} {fmt_seconds(value)}" for step, value in steps.items()]
    return " · ".join([*parts, f"total {fmt_seconds(total)}"])


# --- cohort view --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CohortRow:
    """One candidate in the cohort report."""

    result: GradeResult
    name: str
    link: str | None
    band: Band
    hidden_passed: int
    hidden_run: int
    scores: dict[str, CategoryScore]


@dataclass(frozen=True)
class HistogramBin:
    """One bar of the score histogram, in SVG user units."""

    low: int
    high: int
    count: int
    x: float
    y: float
    height: float
    color: str


@dataclass(frozen=True)
class Histogram:
    """Score distribution: ten 10-point bins and the band thresholds as markers."""

    width: int
    height: int
    base: float
    bins: list[HistogramBin]
    markers: list[tuple[float, str]]
    max_count: int


HIST_WIDTH = 560
HIST_PLOT = 500
HIST_LEFT = 40
HIST_HEIGHT = 150
HIST_TOP = 34  # room above the tallest bar for the threshold labels and the count


def score_histogram(scores: Sequence[float], bands: Bands) -> Histogram:
    """Counts of overall scores in 0-10, 10-20, ..., 90-100 (100 falls in the last bin)."""
    counts = [0] * 10
    for score in scores:
        counts[min(9, int(score // 10))] += 1
    top = max(counts, default=0) or 1
    step = HIST_PLOT / 10
    bins = []
    for index, count in enumerate(counts):
        height = HIST_HEIGHT * count / top
        bins.append(HistogramBin(
            low=index * 10, high=index * 10 + 10, count=count, x=HIST_LEFT + index * step + 2,
            y=HIST_TOP + HIST_HEIGHT - height, height=height,
            color=BAND_COLORS[band_for(index * 10 + 5, bands).key],
        ))
    markers = [(HIST_LEFT + HIST_PLOT * value / 100, label) for value, label in (
        (bands.lean_no, "lean no"), (bands.hire, "hire"), (bands.strong_hire, "strong hire"))]
    return Histogram(HIST_WIDTH, HIST_TOP + HIST_HEIGHT + 26, HIST_TOP + HIST_HEIGHT, bins, markers,
                     max(counts, default=0))


def cohort_rows(results: Sequence[GradeResult], links: Sequence[str | None]) -> list[CohortRow]:
    """Rows for every result, best overall first, errored last."""
    rows = []
    for result, link in zip(results, [*links, *([None] * (len(results) - len(links)))], strict=False):
        passed, run = result.test_totals()
        rows.append(CohortRow(
            result=result, name=display_name(result), link=link, band=result_band(result),
            hidden_passed=passed, hidden_run=run, scores={c.id: c for c in result.categories},
        ))
    return sorted(rows, key=lambda r: (r.result.status != "graded", r.result.did_not_run, -(r.result.overall or -1.0),
                                       r.name))


def cohort_context(
    results: Sequence[GradeResult], links: Sequence[str | None], skipped: Sequence[SkippedEntry] = ()
) -> dict[str, Any]:
    """Everything `cohort.html` needs; `skipped` are the cohort folders' entries that were not graded."""
    rows = cohort_rows(results, links)
    graded = [r for r in rows if r.result.status == "graded"]
    scored = [r.result.overall for r in graded if r.result.overall is not None]
    bands = result_bands(graded[0].result) if graded else Bands()
    band_counts: dict[str, int] = {}
    for row in graded:
        band_counts[row.band.label] = band_counts.get(row.band.label, 0) + 1
    challenges = sorted({challenge_title(r.result) for r in rows})
    return {
        "rows": rows,
        "graded": graded,
        "errored": [r for r in rows if r.result.status != "graded"],
        "not_run": [r for r in rows if r.result.did_not_run],
        "categories": [(cid, category_title(cid)) for cid in _cohort_categories(results)],
        "weights": _cohort_weights(results),
        "histogram": score_histogram(scored, bands),
        "bands": bands,
        "band_counts": band_counts,
        "median": statistics.median(scored) if scored else None,
        "best": max(scored) if scored else None,
        "challenges": challenges,
        "local_backend": cohort_local_backend(results),
        "skipped": skipped_rows(skipped),
        "script": Markup(cohort_script()),
        "script_hash": script_hash(cohort_script()),
    }


def cohort_local_backend(results: Sequence[GradeResult]) -> bool:
    """Whether any submission of the cohort was graded with the local backend (not isolated)."""
    return any(result.sandbox is not None and not result.sandbox.isolated for result in results)


@dataclass(frozen=True)
class SkippedRow:
    """An entry of a cohort folder that was not graded, as the cohort reports list it."""

    folder: str  # the folder's own name; the full path is in `path`
    name: str
    path: str
    reason: str


def skipped_rows(skipped: Sequence[SkippedEntry]) -> list[SkippedRow]:
    """The skipped entries, by folder then name."""
    rows = [SkippedRow(Path(e.folder).name, e.name, str(Path(e.folder) / e.name), e.reason) for e in skipped]
    return sorted(rows, key=lambda row: (row.path, row.name))


def _cohort_categories(results: Sequence[GradeResult]) -> list[str]:
    extra = {c.id for r in results for c in r.categories} - set(CATEGORY_IDS)
    return [*CATEGORY_IDS, *sorted(extra)]


def _cohort_weights(results: Sequence[GradeResult]) -> dict[str, float]:
    weights: dict[str, float] = {}
    for result in results:
        for category in result.categories:
            weights.setdefault(category.id, category.weight)
    return weights


def cohort_script() -> str:
    """The leaderboard's sorting and filtering script, as shipped in `reports/cohort.js`."""
    return (resource_dir("reports") / "cohort.js").read_text(encoding="utf-8")


def script_hash(script: str) -> str:
    """The CSP source expression that allows exactly this inline script."""
    digest = hashlib.sha256(script.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


def _href(path: str) -> str:
    return "/".join(quote(part) for part in path.split("/"))


# --- rendering -----------------------------------------------------------------------------------------------


@functools.cache
def environment() -> Environment:
    """The Jinja2 environment over the shipped `reports/` templates."""
    env = Environment(
        loader=FileSystemLoader(str(resource_dir("reports"))),
        autoescape=select_autoescape(enabled_extensions=("html", "xml"), default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(FILTERS)
    return env


FILTERS: dict[str, Callable[..., Any]] = {
    "num": fmt_number, "seconds": fmt_seconds, "when": fmt_when, "category": category_title, "heat": heat_color,
    "heat_bar": _bar_color, "clip": clip, "one_line": one_line, "xml_text": xml_text, "md": md_text,
    "md_code": md_code, "app_problem": app_problem, "where": location, "metric": metric_label, "href": _href,
    "not_run": not_run_reason,
}


def render_candidate_html(result: GradeResult, audience: Audience = "reviewer") -> str:
    """The candidate report: one self-contained HTML page (inline CSS and SVG, no script, no fetches)."""
    if audience not in AUDIENCES:
        raise ReportError(f"unknown audience {audience!r}; choose from {', '.join(AUDIENCES)}")
    return environment().get_template("candidate.html").render(candidate_context(result, audience))


def render_cohort_html(
    results: Sequence[GradeResult], links: Sequence[str | None] = (), skipped: Sequence[SkippedEntry] = ()
) -> str:
    """The cohort page: leaderboard, score distribution, category heat map, errored submissions and the
    cohort folders' entries that were not graded (`skipped`).

    `links[i]` is the relative address of `results[i]`'s own report (None for no link).
    """
    return environment().get_template("cohort.html").render(cohort_context(results, links, skipped))


def render_markdown(results: GradeResult | Sequence[GradeResult], audience: Audience = "reviewer") -> str:
    """A short Markdown summary for a pull-request comment or a CI job summary.

    One result gives its summary (the candidate audience: from the redacted result, without the band);
    several give a leaderboard.
    """
    if isinstance(results, GradeResult):
        return environment().get_template("summary.md").render(markdown_context(results, audience))
    return render_cohort_markdown(results)


def render_cohort_markdown(results: Sequence[GradeResult], skipped: Sequence[SkippedEntry] = ()) -> str:
    """The cohort leaderboard in Markdown, with the local-backend warning and the entries not graded."""
    context = {"rows": cohort_rows(results, []), "local_backend": cohort_local_backend(results),
               "skipped": skipped_rows(skipped)}
    return environment().get_template("cohort.md").render(context)


def markdown_context(result: GradeResult, audience: Audience = "reviewer") -> dict[str, Any]:
    """Everything `summary.md` needs."""
    reviewer = audience == "reviewer"
    result = result if reviewer else redact_for_candidate(result)
    passed, run = result.test_totals()
    started = result.app is None or result.app.started
    failed = result.failed_tests() if started and reviewer else []
    return {
        "result": result,
        "reviewer": reviewer,
        "name": display_name(result),
        "band": result_band(result),
        "hidden_passed": passed,
        "hidden_run": run,
        "deductions": top_deductions(result),
        "failed_tests": failed[:TOP_DEDUCTIONS],
        "more_failed": max(0, len(failed) - TOP_DEDUCTIONS),
        "not_run_reason": not_run_reason(result),
        "zeroed_titles": zeroed_titles(result),
        "local_backend": result.sandbox is not None and not result.sandbox.isolated,
    }


@dataclass(frozen=True)
class JUnitCase:
    """One JUnit testcase: a hidden test or a check."""

    classname: str
    name: str
    time: float
    kind: Literal["passed", "failure", "error", "skipped"]
    message: str = ""
    text: str = ""


@dataclass(frozen=True)
class JUnitSuite:
    """One submission as a JUnit testsuite."""

    name: str
    cases: list[JUnitCase]
    timestamp: str
    time: float

    def count(self, kind: str) -> int:
        """How many cases ended as `kind`."""
        return sum(case.kind == kind for case in self.cases)


def junit_suite(result: GradeResult) -> JUnitSuite:
    """A testsuite with one testcase per hidden test and per check (or one error when not graded)."""
    name = display_name(result)
    if result.status != "graded":
        case = JUnitCase(f"grader.{name}", "grading", 0.0, "error", "not graded", result.error or "")
        return JUnitSuite(name, [case], result.graded_at, result.timings.total_s)
    cases = [_not_run_case(name, result)] if result.did_not_run else []
    cases += [_check_case(name, check) for check in result.checks]
    cases += [_test_case(name, test) for test in result.suite_tests()]
    return JUnitSuite(name, cases, result.graded_at, result.timings.total_s)


def _not_run_case(name: str, result: GradeResult) -> JUnitCase:
    """The first testcase of a submission whose app never became ready: a failure with the reason."""
    reason = not_run_reason(result)
    log = log_excerpt(result.app.log_tail, 30) if result.app else ""
    return JUnitCase(f"grader.{name}", "app", 0.0, "failure", f"did not run: {reason}",
                     f"{reason}\n\n{log}".strip())


def _check_case(name: str, check: CheckResult) -> JUnitCase:
    kinds = {CheckStatus.FAILED: "failure", CheckStatus.ERROR: "error", CheckStatus.SKIPPED: "skipped"}
    kind: Any = kinds.get(check.status, "passed")
    message = f"{check.summary or check.status} ({fmt_number(check.score)}/{fmt_number(check.max_score)})"
    lines = [f"-{fmt_number(d.points)} {d.rule}: {d.reason}" for d in check.deductions]
    return JUnitCase(f"grader.{name}.checks", check.id, check.duration_s or 0.0, kind, message, "\n".join(lines))


def _test_case(name: str, test: TestCase) -> JUnitCase:
    kinds = {"failed": "failure", "error": "error", "skipped": "skipped"}
    kind: Any = kinds.get(test.outcome, "passed")
    message = (test.message or test.outcome).splitlines()[0] if kind != "passed" else ""
    return JUnitCase(f"grader.{name}.hidden.{test.category}", test.name, test.duration_s, kind, message,
                     clip(test.message) if kind != "passed" else "")


def render_junit(results: Sequence[GradeResult]) -> str:
    """JUnit XML: a testsuite per submission (by name), a testcase per hidden test and per check."""
    suites = sorted((junit_suite(result) for result in results), key=lambda suite: suite.name)
    totals = {kind: sum(s.count(kind) for s in suites) for kind in ("failure", "error", "skipped")}
    return environment().get_template("junit.xml").render(
        suites=suites, tests=sum(len(s.cases) for s in suites), totals=totals,
        time=sum(s.time for s in suites),
    )


# --- writing -------------------------------------------------------------------------------------------------


def write_reports(
    results: Sequence[GradeResult], out_dir: Path, formats: Iterable[str] = DEFAULT_FORMATS,
    audience: Audience = "reviewer", skipped: Sequence[SkippedEntry] = (),
) -> list[Path]:
    """Write each result's reports to `out_dir/<name>/` and, for more than one result or when a cohort
    folder had entries that were not graded (`skipped`), the cohort files, which list those entries.

    html -> report.html (+ index.html), md -> summary.md, junit -> junit.xml, json -> result.json as
    graded. The candidate audience gets a redacted `result.candidate.json` (never over the full result)
    and no cohort files, which would show one candidate the others. Returns the paths written.
    """
    chosen = parse_formats(",".join(formats))
    if audience not in AUDIENCES:
        raise ReportError(f"unknown audience {audience!r}; choose from {', '.join(AUDIENCES)}")
    names = unique_dir_names(results)
    written: list[Path] = []
    for result, name in zip(results, names, strict=True):
        written += _write_candidate(result, out_dir / name, chosen, audience)
    if (len(results) > 1 or skipped) and audience == "reviewer":  # would show a candidate the others
        written += _write_cohort(results, names, out_dir, chosen, skipped)
    return written


def _write_candidate(result: GradeResult, directory: Path, formats: Sequence[str], audience: Audience) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    shown = redact_for_candidate(result) if audience == "candidate" else result
    renderers: dict[str, Callable[[], str]] = {
        "html": lambda: render_candidate_html(result, audience),
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
    skipped: Sequence[SkippedEntry] = (),
) -> list[Path]:
    links = [f"{name}/{REPORT_FILES['html']}" for name in names]
    renderers: dict[str, Callable[[], str]] = {
        "html": lambda: render_cohort_html(results, links, skipped),
        "md": lambda: render_cohort_markdown(results, skipped),
        "junit": lambda: render_junit(results),
    }
    return [_write_text(out_dir / COHORT_FILES[fmt], renderers[fmt]()) for fmt in formats if fmt in renderers]


def _write_text(path: Path, text: str) -> Path:
    """Write atomically: a reader never sees half a report. A full or read-only disk raises OutputError."""
    return write_atomically(path, text)
