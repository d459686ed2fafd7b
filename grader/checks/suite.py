"""The challenge suite on the host: its spec, and scoring the plugin's report per category.

The suite (hidden for `grade`, public for `grader check`) runs in the runner beside the app, with the
grader's pytest plugin (`checks.pytest_plugin`), which writes every verdict to a JSON report
(`checks.formats.SuiteReport`). Each test states its scorecard category with `@pytest.mark.category(...)`;
the suite yields one result per category with score = the weights of the tests passed and max_score = the
weights of the tests run (`weight=` on the marker, default 1; skipped tests count for nothing).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from checks.formats import UNCATEGORIZED
from grader.checks.spec import CheckContext, CheckOutput, RunsIn
from grader.models import (
    HIDDEN_SUITE,
    CheckResult,
    CheckStatus,
    Finding,
    Severity,
    TestCase,
    passed_and_run,
    weights_passed_and_run,
)

REPORT_NAME = "hidden.json"  # the plugin's report in the suite's output directory
PLUGIN_MODULE = "checks.pytest_plugin"
WAIT_MODULE = "checks.wait_for_app"  # the runner's readiness probe: exit 0 once the health path answers 2xx


@dataclass(frozen=True)
class SuiteCheckSpec:
    """The challenge suite run against the app over HTTP, scored per category by the hidden-test points.

    `id` is `hidden-tests`, or `public-tests` when `grader check` runs the public suite the same way;
    with `fail_all_reason` every test is failed with that reason without running (the app never came up).
    """

    id: str = HIDDEN_SUITE
    fail_all_reason: str | None = None

    @property
    def runs_in(self) -> RunsIn:
        """The runner beside the app."""
        return "suite-runner"

    @property
    def entry_module(self) -> str:
        """The grader's pytest plugin, loaded with `-p`."""
        return PLUGIN_MODULE

    @property
    def timeout_s(self) -> float | None:
        """Set per challenge (`[limits] test_timeout_s`), not here."""
        return None

    @property
    def metrics(self) -> tuple[str, ...]:
        """None: the suite is scored by its tests' categories and weights, not by metric rules."""
        return ()

    def command(self, context: CheckContext) -> list[str]:
        """pytest with the grader plugin, no config files read, no cache written, and no conftest.py from
        the folders above the suite (a suite kept inside another project must not load that project's)."""
        argv = [
            context.python, "-m", "pytest", "-p", PLUGIN_MODULE, "-p", "no:cacheprovider",
            "-q", "-rN", "--color=no", "-c", "/dev/null", "--rootdir", context.input_dir,
            "--confcutdir", context.input_dir,
            "--app-url", context.app_url,
            "--grader-report", f"{context.output_dir}/{REPORT_NAME}",
        ]
        if self.fail_all_reason:
            argv += ["--grader-fail-all", self.fail_all_reason]
        return [*argv, context.input_dir]

    def parse(self, output: CheckOutput) -> list[CheckResult]:
        """One CheckResult per category; a missing or unreadable report is the grader's error."""
        report_path = output.output_dir / REPORT_NAME
        try:
            report: dict[str, Any] = json.loads(report_path.read_text())
        except (OSError, ValueError):
            tail = output.log.strip()[-800:]
            return [self._error(f"the hidden suite produced no report (exit {output.exit_code}): {tail}")]
        return results_from_report(report, self.id)

    def _error(self, message: str) -> CheckResult:
        return CheckResult(
            id=self.id, category=UNCATEGORIZED, status=CheckStatus.ERROR, score=0, max_score=0,
            summary=message, findings=[Finding(message=message, severity=Severity.ERROR)],
        )


def wait_for_app_command(python: str, health_urls: Sequence[str], timeout_s: float) -> list[str]:
    """argv that waits in the runner until every one of `health_urls` (one per replica) answers 2xx (exit 0),
    for at most `timeout_s` in all."""
    return [python, "-m", WAIT_MODULE, *health_urls, str(timeout_s)]


def results_from_report(report: dict[str, Any], check_id: str = HIDDEN_SUITE) -> list[CheckResult]:
    """Group the plugin's test records by category into scored results."""
    by_category: dict[str, list[TestCase]] = defaultdict(list)
    for record in report.get("tests", []):
        case = TestCase.model_validate(record)
        by_category[case.category].append(case)
    return [_category_result(check_id, category, cases) for category, cases in sorted(by_category.items())]


def _category_result(check_id: str, category: str, cases: list[TestCase]) -> CheckResult:
    passed, run = passed_and_run(cases)
    earned, possible = weights_passed_and_run(cases)
    findings = [_failure_finding(case) for case in cases if case.failed]
    if category == UNCATEGORIZED:
        findings.insert(0, Finding(
            message=f"{len(cases)} hidden test(s) have no valid @pytest.mark.category and were not scored",
            severity=Severity.ERROR, rule="challenge-authoring",
        ))
        status = CheckStatus.SKIPPED
    else:
        status = CheckStatus.PASSED if passed == run else CheckStatus.FAILED
    return CheckResult(
        id=f"{check_id}/{category}",
        category=category,
        status=status,
        score=earned if category != UNCATEGORIZED else 0,
        max_score=possible if category != UNCATEGORIZED else 0,
        summary=f"{passed}/{run} hidden tests passed",
        findings=findings,
        tests=cases,
    )


def _failure_finding(case: TestCase) -> Finding:
    path = case.nodeid.split("::", 1)[0]
    return Finding(
        message=f"{case.name} {case.outcome}: {case.message or 'no message'}",
        file=str(Path(path)),
        severity=Severity.ERROR,
        rule=case.name,
    )
