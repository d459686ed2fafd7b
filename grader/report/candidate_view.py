"""One submission's report, assembled from its result: categories with their checks, deductions and tests,
findings worst first, the largest deductions, and the contexts of `candidate.html` and `summary.md`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from grader.losses import TOP_LOSSES, Loss, overall_factors, plain_text, rank_losses
from grader.models import (
    CATEGORY_IDS,
    HIDDEN_SUITE,
    PUBLIC_SUITE,
    AppRun,
    CategoryScore,
    CheckResult,
    Deduction,
    Finding,
    GradeResult,
    TestCase,
    category_title,
)
from grader.report.charts import category_chart
from grader.report.facts import (
    Audience,
    challenge_title,
    display_name,
    not_run_reason,
    redact_for_candidate,
    result_band,
    result_bands,
)
from grader.report.text import fmt_seconds, log_excerpt
from grader.reviews import Adjustment, reviewed

CANDIDATE_TESTS_PREFIX = "candidate_tests"
SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}
MAX_FINDINGS_SHOWN = 25


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
    factor: float = 0.0  # one of its check points in points of the overall score (0: not counted)

    def overall(self, points: float) -> float:
        """`points` of this category's checks in points of the overall score."""
        return round(points * self.factor, 2)

    @property
    def lost_points(self) -> float:
        """Sum of the category's deductions."""
        return sum(d.points for d in self.deductions)


def category_views(result: GradeResult) -> list[CategoryView]:
    """The six categories (in scorecard order) with their checks, deductions and hidden tests."""
    scores = {c.id: c for c in result.categories}
    order = [*CATEGORY_IDS, *(c for c in scores if c not in CATEGORY_IDS)]
    factors = overall_factors(result.checks, result.categories)
    views = {cid: CategoryView(score=scores.get(cid) or _unmeasured(cid), title=category_title(cid),
                               factor=factors.get(cid, 0.0)) for cid in order}
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
    advice: list[str] = field(default_factory=list)  # what to do about each finding, in order


def finding_groups(result: GradeResult) -> list[FindingGroup]:
    """Code findings of the static checks (hidden-test failures are shown with their category)."""
    groups = []
    for check in result.checks:
        if check.suite == HIDDEN_SUITE or not check.findings:
            continue
        ordered = sorted(check.findings, key=_finding_rank)
        shown = ordered[:MAX_FINDINGS_SHOWN]
        advice = [finding_advice(check, finding) for finding in shown]
        groups.append(FindingGroup(check, shown, len(ordered) - len(shown), advice))
    return sorted(groups, key=lambda group: _hotspot_rank(group.check.id))


HOTSPOT_ORDER = ("complexity", "typecheck", "lint", "practices")

# What to do about a finding no deduction explains, by the check that reported it.
CHECK_ADVICE = {
    "typecheck": "fix the type error or add the missing annotation (`mypy --strict` shows it)",
    "lint": "rewrite the line as the message says (the linter's rule is named)",
    "complexity": "split the function into smaller ones with one job each",
    "practices": "see the message",
    "candidate_tests": "see the message",
}


def finding_advice(check: CheckResult, finding: Finding) -> str:
    """What to do about a finding: the advice of the deduction it is evidence for, else its check's."""
    for deduction in check.deductions:
        if finding in deduction.evidence:
            return plain_text(deduction)[1]
    return CHECK_ADVICE.get(check.id.split("/", 1)[0], "see the message")


def _hotspot_rank(check_id: str) -> tuple[int, str]:
    """Most complex functions first, then type and lint findings, then everything else."""
    tool = check_id.split("/", 1)[0]
    return (HOTSPOT_ORDER.index(tool) if tool in HOTSPOT_ORDER else len(HOTSPOT_ORDER), check_id)


def _finding_rank(finding: Finding) -> tuple[int, str, int]:
    return (SEVERITY_ORDER.get(str(finding.severity), 3), finding.file or "", finding.line or 0)


def candidate_test_checks(result: GradeResult) -> list[CheckResult]:
    """The checks that ran the candidate's own tests (coverage and pass rate in their metrics)."""
    return [c for c in result.checks if c.id.startswith(CANDIDATE_TESTS_PREFIX)]


def result_losses(result: GradeResult) -> list[Loss]:
    """Every cause of lost points of a graded result, largest first, in points of the overall score."""
    if result.status != "graded":
        return []
    problem = ((result.app.problem if result.app else None) or "did not start") if result.did_not_run else None
    return rank_losses(result.checks, result.categories, problem)


def _weights_summary(result: GradeResult) -> tuple[list[str], list[str]]:
    evaluated = [category_title(c.id) for c in result.categories if c.evaluated]
    missing = [category_title(c.id) for c in result.categories
               if not c.evaluated and not c.counts_as_zero and c.weight > 0]
    return evaluated, missing


def zeroed_titles(result: GradeResult) -> list[str]:
    """The categories counted as 0 because the app never ran."""
    return [category_title(c.id) for c in result.categories if c.counts_as_zero]


def candidate_context(result: GradeResult, audience: Audience,
                      adjustments: Sequence[Adjustment] = ()) -> dict[str, Any]:
    """Everything `candidate.html` needs; `adjustments`: the reviewers' (shown to the reviewer audience only)."""
    shown = redact_for_candidate(result) if audience == "candidate" else result
    evaluated, missing = _weights_summary(shown)
    passed, run = shown.test_totals()
    app: AppRun | None = shown.app
    return {
        "audience": audience,
        "reviewed": reviewed(result, adjustments) if audience == "reviewer" else None,
        "suite_label": "Public tests" if any(c.suite == PUBLIC_SUITE for c in result.checks) else "Hidden tests",
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
        "worker_problem": app.worker.problem if app and app.worker else None,
        "worker_log": log_excerpt(app.worker.log_tail) if app and app.worker and app.worker.problem else "",
        "local_backend": shown.sandbox is not None and not shown.sandbox.isolated,
        "deduction_count": sum(len(c.deductions) for c in shown.checks),
        "timings": timings_text(shown),
        "app_down": app is not None and not app.started,
        "did_not_run": shown.did_not_run,
        "not_run_reason": not_run_reason(shown),
        "zeroed_titles": zeroed_titles(shown),
        **lost_points(shown),
    }


def lost_points(result: GradeResult, limit: int = TOP_LOSSES) -> dict[str, Any]:
    """The largest losses in points of the overall score, for "Where points were lost"."""
    losses = result_losses(result)
    return {"losses": losses[:limit], "more_lost": max(0, len(losses) - limit)}


def timings_text(result: GradeResult) -> str:
    """`intake 0.12 s · environment 3.40 s · ... · total 9.10 s`, from whatever steps the result timed."""
    steps = {key.removesuffix("_s"): value for key, value in result.timings.model_dump().items()
             if key.endswith("_s") and isinstance(value, int | float)}
    total = steps.pop("total", None)
    parts = [f"{step.replace('_', ' ')} {fmt_seconds(value)}" for step, value in steps.items()]
    return " · ".join([*parts, f"total {fmt_seconds(total)}"])


def markdown_context(result: GradeResult, audience: Audience = "reviewer") -> dict[str, Any]:
    """Everything `summary.md` needs."""
    reviewer = audience == "reviewer"
    result = result if reviewer else redact_for_candidate(result)
    passed, run = result.test_totals()
    return {
        "result": result,
        "reviewer": reviewer,
        "name": display_name(result),
        "band": result_band(result),
        "hidden_passed": passed,
        "hidden_run": run,
        "losses": result_losses(result)[:TOP_LOSSES],
        "not_run_reason": not_run_reason(result),
        "zeroed_titles": zeroed_titles(result),
        "local_backend": result.sandbox is not None and not result.sandbox.isolated,
    }
