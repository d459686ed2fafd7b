"""The grading pipeline: a submission path in, `result.json` out, through steps over frozen records.

    intake       take -> Taken, read_project -> Intake              (grader.steps.intake)
    environment  resolve_dependencies -> Resolved,
                 prepare_environment -> Prepared                    (grader.steps.environment)
    runs         run_checks_and_app -> Runs                         (grader.steps.runs)
    scoring      score -> Scored                                    (grader.steps.scoring)
    result       graded_result -> GradeResult                       (grader.steps.result)

Each step is a small function taking the grading's request and the record before it, and returning a new
frozen record (`grader.steps.records`). A step that fails because of the submission leaves evidence in its
record; one that fails because the grader could not do its work (no engine, no network for wheels) or
because the submission cannot be taken ends the grading with `status: error`, said from the last record
reached. `_grade` below is the whole sequence.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from grader import __version__
from grader.challenge import challenge_content_hash
from grader.environments import Declared, DependencyError, challenge_services
from grader.hooks import GradingHooks
from grader.intake import IntakeError
from grader.models import Challenge, DependencyRecord, GradeResult
from grader.results import RESULT_FILE, previous_result, result_dir, write_result
from grader.sandbox.base import Sandbox, SandboxError
from grader.similarity.store import write_prints
from grader.steps.environment import prepare_environment, resolve_dependencies
from grader.steps.intake import read_project, take
from grader.steps.records import (
    GradingError,
    GradingOptions,
    GradingRequest,
    Intake,
    Log,
    Reached,
    Suite,
    hidden_suite,
    public_suite,
)
from grader.steps.result import error_result, graded_result, scoring_tools
from grader.steps.runs import OVERLAP_ENV, run_checks_and_app
from grader.steps.scoring import fail_all_hidden_tests, score
from grader.toolchain import lock_hash

__all__ = [  # what callers import from here; the steps' own names live in grader.steps
    "OVERLAP_ENV", "RESULT_FILE", "GradingError", "GradingOptions", "Suite", "challenge_services",
    "fail_all_hidden_tests", "grade_submission", "hidden_suite", "public_suite", "result_dir", "reusable_result",
    "write_result",
]

# The failures that make a result `status: error`: the submission cannot be taken, or the grader could not
# do its work. Anything else (a bug, Ctrl-C) propagates.
GRADING_ERRORS = (IntakeError, GradingError, SandboxError, DependencyError)
R = TypeVar("R", bound=Reached)
Out = TypeVar("Out")


class NotGraded(Exception):
    """A step failed with one of GRADING_ERRORS; `reached` is the last record before it (None: no snapshot)."""

    def __init__(self, message: str, reached: Reached | None) -> None:
        super().__init__(message)
        self.message = message
        self.reached = reached


def grade_submission(
    source: Path, challenge: Challenge, sandbox: Sandbox, out_root: Path, log: Log = print, force: bool = False,
    suite: Suite | None = None, hooks: GradingHooks | None = None, options: GradingOptions | None = None,
) -> GradeResult:
    """Grade one submission and write `out_root/<name>/result.json`; never raises for bad input.

    A finished result is reused when the submission's content, the challenge's content and the grader's
    version are unchanged (`force` regrades anyway). `suite` replaces the hidden suite (`grader check`
    runs the public one; pass `force=True` with it, as a reused result may come from another suite).
    `hooks` (batches): the output name, a cancel flag (raises GradingCancelled and writes nothing) and a
    stage callback. `options`: see GradingOptions.
    """
    # Absolute: backends run tools in other directories and bind-mount OUT into containers.
    request = GradingRequest(source=source, challenge=challenge, sandbox=sandbox, out_root=out_root.absolute(),
                             suite=suite or hidden_suite(challenge), options=options or GradingOptions(),
                             hooks=hooks or GradingHooks(), log=log)
    intake: Intake | None = None  # its fingerprints are kept beside any result reached after intake
    try:
        with request.hooks.stage("intake"):
            intake = _step(read_project, request, _first_step(take, request))
        previous = None if force else reusable_result(request, intake)
        if previous is not None:
            log(f"{request.name}: unchanged since the last grading: result reused (--force regrades)")
            request.hooks.reused = True
            _keep_fingerprints(intake, result_dir(out_root, request.name))
            return previous
        result = _grade(request, intake)
    except NotGraded as failure:
        request.hooks.checkpoint()  # an interrupted run also fails: that is no result at all
        result = error_result(request, failure.reached, failure.message)
    request.hooks.checkpoint()
    directory = write_result(result, result_dir(out_root, request.name)).parent
    _keep_fingerprints(intake, directory)
    return result


def _keep_fingerprints(intake: Intake | None, directory: Path) -> None:
    """Copy the snapshot's fingerprints beside its result, for `grader similarity` (docs/similarity.md)."""
    prints = intake.taken.fingerprints if intake is not None else None
    if prints is not None:
        write_prints(prints, directory)


def _grade(request: GradingRequest, intake: Intake) -> GradeResult:
    """The steps after intake, in order; the stages (and their cancellation checks) around them."""
    with request.hooks.stage("environment"):
        prepared = _step(prepare_environment, request, _step(resolve_dependencies, request, intake))
    runs = _step(run_checks_and_app, request, prepared)  # the stages of its runs are reported inside
    return graded_result(request, _step(score, request, runs))


def _step(function: Callable[[GradingRequest, R], Out], request: GradingRequest, record: R) -> Out:
    """Run one step on `record`; a failure that makes an error result carries the record reached."""
    try:
        return function(request, record)
    except GRADING_ERRORS as exc:
        raise NotGraded(str(exc), record) from exc


def _first_step(function: Callable[[GradingRequest], Out], request: GradingRequest) -> Out:
    """Run the first step, which has only the request: its failure has no record to show."""
    try:
        return function(request)
    except GRADING_ERRORS as exc:
        raise NotGraded(str(exc), None) from exc


def reusable_result(request: GradingRequest, intake: Intake) -> GradeResult | None:
    """The result already in the output dir, if it graded exactly this submission with this grader."""
    previous = previous_result(request.out_root / request.name)
    if previous is None:
        return None
    same = (
        previous.status == "graded"
        and previous.grader_version == __version__
        and previous.submission is not None
        and previous.submission.content_hash == intake.snapshot.content_hash
        and previous.challenge.get("content_hash") == challenge_content_hash(request.challenge)
        and previous.sandbox is not None
        and previous.sandbox.backend == request.sandbox.name
        and _same_cutoff(previous.submission.dependencies, intake.declared)
        and previous.tools == scoring_tools(request.sandbox) and previous.tools_lock == lock_hash()
    )
    return previous if same else None


def _same_cutoff(previous: DependencyRecord | None, declared: Declared) -> bool:
    """Whether an earlier result resolved versions with the cutoff this grading would use."""
    moment = declared.as_of.moment
    wanted = moment.date().isoformat() if moment else None
    return previous is not None and previous.as_of == wanted

