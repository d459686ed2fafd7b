"""The check registry is the truth about each check: every scoring rule uses a metric its check declares, and
each check's sandbox module writes exactly the metrics its spec declares (run for real, as the sandbox runs it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

from grader.checks.registry import ALL_CHECKS, LINT, PARSE_METRICS, STATIC_CHECKS
from grader.checks.spec import CheckContext
from grader.checks.static import StaticCheckSpec
from grader.rules import DEFAULT_RULES, Rule
from grader.scoring import PARSED_SHARE
from tests.conftest import REPO_ROOT

FASTAPI_REF = REPO_ROOT / "challenges" / "hello-api" / "solutions" / "fastapi-ref"
SANDBOX_ENVIRONMENTS = {"tools", "candidate", "suite-runner"}


def undeclared_metrics(rules: Iterable[Rule], checks: Mapping[str, StaticCheckSpec]) -> list[str]:
    """`rule id: metric` for every metric a rule reads (its own, `requires`, `zero_unless`) that its check
    does not declare, or `rule id: no check` when the check is not registered."""
    problems = []
    for rule in rules:
        check = checks.get(rule.check)
        if check is None:
            problems.append(f"{rule.id}: no check {rule.check!r}")
            continue
        read = [metric for metric in (rule.metric, rule.requires, rule.zero_unless) if metric is not None]
        problems += [f"{rule.id}: {metric}" for metric in read if metric not in check.metrics]
    return problems


def test_every_scoring_rule_reads_metrics_its_check_declares() -> None:
    assert undeclared_metrics(DEFAULT_RULES, STATIC_CHECKS) == []


def test_an_undeclared_metric_or_check_is_reported() -> None:
    """The test above can fail: a misspelt metric, a misspelt `zero_unless` and an unknown check are caught."""
    rules = [Rule("lint", "findings_totl", "testing", 1, 0, 1, "x"),
             Rule("candidate_tests", "pass_rate", "testing", 1, 0, 1, "x", zero_unless="tests_fund"),
             Rule("lint2", "lines", "testing", 1, 0, 1, "x")]
    assert undeclared_metrics(rules, STATIC_CHECKS) == [
        "lint.findings_totl: findings_totl", "candidate_tests.pass_rate: tests_fund", "lint2.lines: no check 'lint2'"]


def test_metrics_the_scoring_reads_by_name_are_declared() -> None:
    """`grader.scoring` scales a code check's points by `parsed_share` and adjusts lint's infrastructure count."""
    code_checks = [check for check in STATIC_CHECKS.values() if PARSED_SHARE in check.metrics]
    assert {check.id for check in code_checks} == {"typecheck", "lint", "complexity"}
    assert all(set(PARSE_METRICS) <= set(check.metrics) for check in code_checks)
    assert {"infrastructure_findings", "infrastructure_per_kloc"} <= set(LINT.metrics)


def test_every_spec_names_its_sandbox_module_and_environment() -> None:
    for check_id, check in ALL_CHECKS.items():
        assert check.id == check_id
        assert check.runs_in in SANDBOX_ENVIRONMENTS
        module = REPO_ROOT / Path(*check.entry_module.split(".")).with_suffix(".py")
        assert module.is_file(), f"{check_id}: {check.entry_module} is not a module of checks/"
        assert len(set(check.metrics)) == len(check.metrics), f"{check_id} declares a metric twice"
    assert all(check.timeout_s and check.timeout_s > 0 for check in STATIC_CHECKS.values())


def written_metrics(check: StaticCheckSpec, submission: Path, out: Path) -> set[str]:
    """Run the check's own command as the sandbox does (PYTHONPATH at checks/, cwd elsewhere); its metric names."""
    argv = check.command(CheckContext(str(submission), str(out), sys.executable))
    proc = subprocess.run(argv, cwd=out, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)}, capture_output=True,
                          text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr
    report = json.loads((out / f"{check.id}.json").read_text())
    return set(report["metrics"])


@pytest.mark.parametrize("check", STATIC_CHECKS.values(), ids=STATIC_CHECKS.keys())
def test_each_check_writes_exactly_its_declared_metrics(check: StaticCheckSpec, tmp_path: Path) -> None:
    """On a real submission and on an empty one (where checks take their early exits)."""
    empty = tmp_path / "empty"
    empty.mkdir()
    for submission in (FASTAPI_REF, empty):
        out = tmp_path / f"out-{submission.name}"
        out.mkdir()
        assert written_metrics(check, submission, out) == set(check.metrics), submission.name
