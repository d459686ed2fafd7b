"""What a result says, as the reports show it: its hiring band, its name and directory, the challenge's
title, and the redacted copy the candidate audience renders from.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from grader.app_log import not_ready_sentence
from grader.models import (
    Bands,
    CheckResult,
    Deduction,
    GradeResult,
    TestCase,
)

Audience = Literal["reviewer", "candidate"]
AUDIENCES: tuple[Audience, ...] = ("reviewer", "candidate")


class ReportError(Exception):
    """A report could not be made: an unreadable result file, an unknown format, a path that is not there."""


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
    """A copy fit to share with the candidate: everything about their own code, nothing about the hidden suite.

    Kept: the static checks' findings and deductions (the candidate's own code, with `file:line`, so the
    copy can teach). Removed: hidden-test names, ids and messages (each test keeps only its category and
    outcome, and each failed test's cost stays under its anonymous name, so totals still add up), review
    notes (interview questions), the app's and the worker's logs and the submission's source path and intake
    notes.
    """
    checks = [check if check.suite is None else _anonymous_suite_check(check) for check in result.checks]
    submission = result.submission
    if submission is not None:
        submission = submission.model_copy(update={"findings": [], "source": submission.name})
    app = None
    if result.app is not None:
        worker = result.app.worker.model_copy(update={"log_tail": ""}) if result.app.worker else None
        app = result.app.model_copy(update={"log_tail": "", "log_truncated": False, "worker": worker})
    update: dict[str, Any] = {"checks": checks, "submission": submission, "app": app, "review": None}
    return result.model_copy(update=update)


def _anonymous_suite_check(check: CheckResult) -> CheckResult:
    """A suite check with anonymous tests; a failed test's deduction keeps only its cost."""
    tests = _anonymous_tests(check.tests)
    names = {test.name: anonymous.name for test, anonymous in zip(check.tests, tests, strict=True)}
    deductions = [Deduction(rule=names.get(d.rule, "hidden test"), category=d.category, points=d.points,
                            reason="a hidden test failed") for d in check.deductions]
    return check.model_copy(update={"findings": [], "deductions": deductions, "tests": tests,
                                    "summary": _count_only(check.summary)})


def _count_only(summary: str) -> str:
    """`7/10 hidden tests passed`, whatever else a suite check's summary said."""
    match = re.match(r"\d+/\d+ \w+ tests passed", summary)
    return match.group(0) if match else ""


def _anonymous_tests(tests: Sequence[TestCase]) -> list[TestCase]:
    return [
        TestCase(name=f"hidden test {index}", nodeid="", category=test.category, outcome=test.outcome)
        for index, test in enumerate(tests, start=1)
    ]
