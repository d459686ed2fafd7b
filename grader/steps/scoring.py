"""The scoring step: the suite's verdicts and the static checks' metrics become scored results and categories."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from grader.checks.spec import CheckContext, CheckOutput
from grader.models import Challenge, CheckResult, CheckStatus, Finding, Severity
from grader.processes import run as run_process
from grader.rules import effective_rules, hidden_points
from grader.sandbox.base import ImageOutcome
from grader.scoring import scale_hidden_results, score_categories, score_check_runs
from grader.steps.records import GradingError, GradingRequest, Runs, Scored, Suite, hidden_suite
from grader.steps.runs import no_command_problem, suite_check

FAIL_ALL_TIMEOUT_S = 300  # the hidden suite with every test failed at once: no app, no waiting


def score(request: GradingRequest, runs: Runs) -> Scored:
    """Every result scored: the suite's by its categories' points, the static checks' by the rules."""
    challenge = request.challenge
    rules = effective_rules(challenge.scoring, challenge.practices)
    hidden = scale_hidden_results(suite_results(request, runs), hidden_points(challenge.scoring))
    checks = (*hidden, *score_check_runs(runs.static, rules), *image_results(runs.image))
    # An app that never became ready: the categories its suite measures count as 0 (docs/scoring.md).
    categories, overall, evaluated = score_categories(checks, challenge.scorecard, app_ran=runs.app.started)
    return Scored(runs, checks, tuple(categories), overall, evaluated)


IMAGE_CHECK = "docker_build"
IMAGE_SEVERITY = {"passed": Severity.INFO, "failed": Severity.WARNING, "skipped": Severity.INFO}


def image_results(image: ImageOutcome | None) -> tuple[CheckResult, ...]:
    """The candidate's Dockerfile as an infrastructure result worth no points: a finding for the reviewer
    (built and answering, not built or not answering, or skipped for a reason that is not the candidate's)."""
    if image is None:
        return ()
    finding = Finding(message=image.summary, rule=f"dockerfile-{image.status}", category="infrastructure",
                      severity=IMAGE_SEVERITY[image.status], file="Dockerfile" if image.status != "skipped" else None)
    findings = [finding]
    if image.log_tail:
        findings.append(Finding(message=f"its last lines: {image.log_tail[-400:]}", rule="dockerfile-log",
                                category="infrastructure", severity=Severity.INFO))
    return (CheckResult(id=f"{IMAGE_CHECK}/infrastructure", category="infrastructure",
                        status=CheckStatus(image.status), score=0, max_score=0, summary=image.summary,
                        duration_s=image.duration_s, findings=findings),)


def suite_results(request: GradingRequest, runs: Runs) -> list[CheckResult]:
    """The suite's results per category; if the app never answered, every test of the suite counts as failed.
    GradingError when the suite could not run beside a running app (the grader's failure)."""
    outcome = runs.outcome
    if outcome is not None and outcome.runner_problem:
        raise GradingError(f"the hidden suite could not run: {outcome.runner_problem}")
    if outcome is not None and outcome.report is not None:
        return suite_check(request.suite).parse(CheckOutput(outcome.report.parent, 0, outcome.runner_log))
    if outcome is None:
        reason = f"the app was not started: {no_command_problem(runs.intake.app_spec)}"
    else:  # the problem as explained from the app's log
        reason = f"the app {runs.app.problem or 'did not start'}"
    request.log(f"{request.name}: {reason}")
    return fail_all_hidden_tests(request.challenge, reason, request.suite)


def fail_all_hidden_tests(challenge: Challenge, reason: str, suite: Suite | None = None) -> list[CheckResult]:
    """Run the hidden suite (or `suite`) with every test failed for `reason`: exact counts, no app needed.

    Only the grader's own plugin and the challenge's trusted tests run here; no candidate code.
    """
    suite = suite or hidden_suite(challenge)
    check = suite_check(suite, fail_all_reason=reason)
    with tempfile.TemporaryDirectory(prefix="grader-failall-") as scratch:
        context = CheckContext(str(suite.directory), scratch, sys.executable, app_url="http://127.0.0.1:9")
        done = run_process(check.command(context), cwd=scratch, timeout_s=FAIL_ALL_TIMEOUT_S)
        return check.parse(CheckOutput(Path(scratch), done.returncode, done.output))
