"""What `grade` does for CI jobs: a score threshold for the exit code and the GitHub job summary.

Exit codes are documented in README.md and docs/ci/README.md; `EXIT_BELOW_THRESHOLD` is the one this
module decides. A submission that could not be graded is never "below": it keeps exit code 1.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from grader.cohort import SkippedEntry
from grader.models import GradeResult

EXIT_BELOW_THRESHOLD = 4
STEP_SUMMARY_ENV = "GITHUB_STEP_SUMMARY"


def below_threshold(results: Sequence[GradeResult], threshold: float) -> list[GradeResult]:
    """Graded results whose overall score is under `threshold` (no score at all counts as under)."""
    return [
        result for result in results
        if result.status == "graded" and (result.overall is None or result.overall < threshold)
    ]


def below_threshold_message(low: Sequence[GradeResult], threshold: float) -> str:
    """One line naming each submission under the threshold with its score."""
    names = ", ".join(
        f"{r.submission.name if r.submission else '?'} ({'n/a' if r.overall is None else f'{r.overall:g}'})"
        for r in low
    )
    return f"{len(low)} submission(s) scored below --fail-under {threshold:g}: {names}"


def append_step_summary(
    results: Sequence[GradeResult], environ: Mapping[str, str] | None = None, skipped: Sequence[SkippedEntry] = (),
) -> Path | None:
    """Append the Markdown summary to `$GITHUB_STEP_SUMMARY` when it is set; return the file written.

    One result gives its summary, several (or a cohort folder with entries that were not graded,
    `skipped`) a leaderboard: the same text as `summary.md`/`index.md`, local-backend warning included.
    """
    target = (os.environ if environ is None else environ).get(STEP_SUMMARY_ENV, "").strip()
    if not target or not (results or skipped):
        return None
    from grader.report import render_cohort_markdown, render_markdown

    single = len(results) == 1 and not skipped
    text = render_markdown(results[0]) if single else render_cohort_markdown(results, skipped)
    path = Path(target)
    with path.open("a", encoding="utf-8") as summary:
        summary.write(text.rstrip("\n") + "\n\n")
    return path
