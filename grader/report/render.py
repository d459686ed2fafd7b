"""Rendering through the shipped Jinja2 templates (`reports/`): the candidate and cohort pages, the Markdown
summaries and JUnit XML. Autoescaping is on for HTML and XML, and an undefined name is an error.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from grader.cohort import SkippedEntry
from grader.losses import plain_text
from grader.models import (
    CheckResult,
    CheckStatus,
    GradeResult,
    TestCase,
    category_title,
)
from grader.paths import resource_dir
from grader.report.candidate_view import candidate_context, markdown_context
from grader.report.charts import bar_color
from grader.report.cohort_view import cohort_context, cohort_local_backend, cohort_rows, skipped_rows
from grader.report.facts import AUDIENCES, Audience, ReportError, display_name, not_run_reason
from grader.report.text import (
    app_problem,
    clip,
    fmt_number,
    fmt_seconds,
    fmt_when,
    heat_color,
    href_path,
    location,
    log_excerpt,
    md_code,
    md_text,
    metric_label,
    one_line,
    xml_text,
)
from grader.reviews import Adjustment


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
    "heat_bar": bar_color, "clip": clip, "one_line": one_line, "xml_text": xml_text, "md": md_text,
    "md_code": md_code, "app_problem": app_problem, "where": location, "metric": metric_label, "href": href_path,
    "not_run": not_run_reason, "plain": lambda deduction: plain_text(deduction)[0],
    "advice": lambda deduction: plain_text(deduction)[1],
}


def render_candidate_html(result: GradeResult, audience: Audience = "reviewer",
                          adjustments: Sequence[Adjustment] = (), similar: Sequence[dict[str, Any]] = ()) -> str:
    """The candidate report: one self-contained HTML page (inline CSS and SVG, no script, no fetches).

    `adjustments`: the reviewers' (`OUT/reviews.toml`); the reviewer copy shows those naming this result.
    `similar`: the flagged pairs it is in (`similar_to`), linked for the reviewer only: the candidate
    audience never sees another candidate's name.
    """
    if audience not in AUDIENCES:
        raise ReportError(f"unknown audience {audience!r}; choose from {', '.join(AUDIENCES)}")
    context = candidate_context(result, audience, adjustments)
    context["similar"] = list(similar) if audience == "reviewer" else []
    return environment().get_template("candidate.html").render(context)


def render_cohort_html(
    results: Sequence[GradeResult], links: Sequence[str | None] = (), skipped: Sequence[SkippedEntry] = (),
    similarity: dict[str, Any] | None = None,
) -> str:
    """The cohort page: leaderboard, score distribution, category heat map, errored submissions and the
    cohort folders' entries that were not graded (`skipped`).

    `links[i]` is the relative address of `results[i]`'s own report (None for no link); `similarity` is the
    section made from OUT/similarity.json (`cohort_section`), or None.
    """
    context = cohort_context(results, links, skipped)
    context["similarity"] = similarity
    return environment().get_template("cohort.html").render(context)


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
