"""The result step: a graded result from the scored record, or an error result from the last record reached.

Both state everything known at that point (`Reached`): the submission, the sandbox, the time each step took.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from grader import __version__
from grader.challenge import challenge_content_hash
from grader.models import Challenge, Finding, GradeResult, Severity, Timings
from grader.review import build_review
from grader.sandbox.base import Sandbox
from grader.steps.records import GradingRequest, Reached, Scored
from grader.toolchain import installed_versions, lock_hash, locked_versions

APP_LOG = "app.log"


def graded_result(request: GradingRequest, scored: Scored) -> GradeResult:
    """The graded result; the app's log tail goes next to it as `app.log` when the app was started."""
    runs, app = scored.runs, scored.runs.app
    timings = runs.timings().model_copy(update={"total_s": _elapsed(request)})
    if runs.outcome is not None:
        (request.output_dir() / APP_LOG).write_text(runs.outcome.app.log_tail, encoding="utf-8")
    checks, categories = list(scored.checks), list(scored.categories)
    return GradeResult(
        grader_version=__version__,
        tools=scoring_tools(request.sandbox),
        tools_lock=lock_hash(),
        graded_at=_now(),
        status="graded",
        challenge=challenge_info(request.challenge),
        submission=runs.submission(request),
        sandbox=runs.sandbox_info(),
        outcome="ran" if app.started else "did_not_run",
        app=app,
        checks=checks,
        categories=categories,
        overall=scored.overall,
        evaluated_weight=scored.evaluated_weight,
        bands=request.challenge.scoring.bands,
        review=build_review(checks, categories, None if app.started else app.problem),
        timings=timings,
    )


def error_result(request: GradingRequest, reached: Reached | None, message: str) -> GradeResult:
    """`status: error` with `message`, and whatever the steps that finished found (`reached`: the last
    record; None when not even the snapshot was taken)."""
    timings = (reached.timings() if reached else Timings()).model_copy(update={"total_s": _elapsed(request)})
    request.log(f"{request.name}: not graded: {message}")
    submission = None
    if reached is not None:
        known = reached.submission(request)
        not_graded = Finding(message=message, severity=Severity.ERROR, rule="not-graded")
        submission = known.model_copy(update={"findings": [*known.findings, not_graded]})
    return GradeResult(
        grader_version=__version__,
        tools=scoring_tools(request.sandbox),
        tools_lock=lock_hash(),
        graded_at=_now(),
        status="error",
        error=message,
        challenge=challenge_info(request.challenge),
        submission=submission,
        sandbox=reached.sandbox_info() if reached else None,
        overall=None,
        evaluated_weight=0,
        timings=timings,
    )


def scoring_tools(sandbox: Sandbox) -> dict[str, str]:
    """The versions of the tools that score on this backend: the lock's in the runner image (Docker), this
    grader's own environment's with the local backend (normally the same: pyproject pins them exactly)."""
    return locked_versions() if sandbox.wheel_target == "linux-container" else installed_versions()


def challenge_info(challenge: Challenge) -> dict[str, str]:
    """The challenge's id, title and content hash."""
    return {"id": challenge.id, "title": challenge.title, "content_hash": challenge_content_hash(challenge)}


def _elapsed(request: GradingRequest) -> float:
    return round(time.monotonic() - request.started, 3)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
