"""Scoring rules: metric -> points, deductions with evidence, hidden-test scaling, review notes."""

from __future__ import annotations

import pytest

from grader.models import (
    CheckResult,
    CheckRun,
    CheckStatus,
    Finding,
    Practices,
    RuleOverride,
    ScoringConfig,
    TestCase,
)
from grader.review import build_review
from grader.rules import DEFAULT_RULES, Rule, effective_rules, hidden_points
from grader.scoring import scale_hidden_results, score_categories, score_check_runs
from tests.conftest import REPO_ROOT


@pytest.mark.parametrize(("value", "expected"), [(0, 20), (5, 0), (10, 0), (2.5, 10), (1, 16)])
def test_lower_is_better_rule(value: float, expected: float) -> None:
    rule = Rule("typecheck", "errors_per_100_lines", "python_fundamentals", 20, 0, 5, "x")
    assert rule.earned(value) == expected


@pytest.mark.parametrize(("value", "expected"), [(80, 30), (100, 30), (20, 0), (50, 15), (0, 0)])
def test_higher_is_better_rule(value: float, expected: float) -> None:
    rule = Rule("candidate_tests", "coverage_percent", "testing", 30, 80, 20, "x")
    assert rule.earned(value) == expected


def test_step_rule_when_good_equals_bad() -> None:
    rule = Rule("practices", "has_dockerfile", "infrastructure", 15, 1, 1, "x")
    assert (rule.earned(1), rule.earned(0)) == (15, 0)


def typecheck_run(errors_per_100: float, share: float) -> CheckRun:
    finding = Finding(message="Missing return type", file="app/main.py", line=12, rule="no-untyped-def",
                      category="python_fundamentals")
    return CheckRun(id="typecheck", status="ok", duration_s=1.5,
                    metrics={"errors_per_100_lines": errors_per_100, "annotation_share": share, "errors": 3},
                    findings=[finding])


def test_deduction_carries_metric_thresholds_and_file_line_evidence() -> None:
    [result] = score_check_runs([typecheck_run(2.5, 90)], DEFAULT_RULES)
    assert result.id == "typecheck/python_fundamentals"
    assert (result.score, result.max_score, result.status) == (30, 40, CheckStatus.FAILED)
    [deduction] = result.deductions
    assert deduction.rule == "typecheck.errors_per_100_lines"
    assert (deduction.points, deduction.value, deduction.good, deduction.bad) == (10, 2.5, 0, 5)
    assert deduction.evidence[0].file == "app/main.py" and deduction.evidence[0].line == 12
    assert result.duration_s == 1.5


def test_check_that_could_not_run_is_an_error_without_points() -> None:
    run = CheckRun(id="typecheck", status="error", error="timed out after 120 s")
    [result] = score_check_runs([run], DEFAULT_RULES)
    assert result.status == CheckStatus.ERROR and result.max_score == 0
    assert "timed out" in result.summary
    categories, overall, _ = score_categories([result], {"python_fundamentals": 20})
    assert overall is None and categories[0].note == "its checks could not run"


def test_not_applicable_metrics_are_left_out() -> None:
    run = CheckRun(id="practices", status="ok", metrics={"has_dockerfile": 0, "dockerfile_issues": 0})
    infrastructure = next(r for r in score_check_runs([run], DEFAULT_RULES) if r.category == "infrastructure")
    assert list(infrastructure.metrics) == ["has_dockerfile"]  # dockerfile_issues requires has_dockerfile > 0
    run = CheckRun(id="practices", status="ok", metrics={"idiom_share": 50, "blocking_calls_in_async": -1})
    fundamentals = next(r for r in score_check_runs([run], DEFAULT_RULES) if r.category == "python_fundamentals")
    assert list(fundamentals.metrics) == ["idiom_share"]


def test_hidden_tests_scale_to_category_points_with_one_deduction_per_failure() -> None:
    tests = [TestCase(name=f"test_{i}", nodeid=f"t.py::test_{i}", category="api_design",
                      outcome="failed" if i == 0 else "passed", message="expected 201") for i in range(4)]
    raw = CheckResult(id="hidden-tests/api_design", category="api_design", status=CheckStatus.FAILED,
                      score=3, max_score=4, tests=tests)
    [scaled] = scale_hidden_results([raw], hidden_points(ScoringConfig()))
    assert (scaled.score, scaled.max_score) == (75, 100)
    assert [(d.rule, d.points) for d in scaled.deductions] == [("test_0", 25)]


def test_challenge_overrides_rules_and_rejects_unknown_ones() -> None:
    config = ScoringConfig(rules={"candidate_tests.coverage_percent": RuleOverride(good=70)})
    rule = next(r for r in effective_rules(config, Practices()) if r.id == "candidate_tests.coverage_percent")
    assert (rule.good, rule.bad, rule.points) == (70, 20, 30)
    with pytest.raises(ValueError, match="unknown scoring rules"):
        effective_rules(ScoringConfig(rules={"nope.metric": RuleOverride(points=1)}), Practices())


def test_review_notes_are_deterministic_and_point_at_the_evidence() -> None:
    checks = score_check_runs([typecheck_run(4, 30)], DEFAULT_RULES)
    categories, _, _ = score_categories(checks, {"python_fundamentals": 20})
    first = build_review(checks, categories)
    assert first == build_review(checks, categories)
    assert 3 <= len(first.questions) <= 5
    assert any("app/main.py:12" in q for q in first.questions)
    assert first.concerns[0].endswith(" of 100.") and "(app/main.py:12)" in first.concerns[0]


def test_docs_explain_every_rule() -> None:
    docs = (REPO_ROOT / "docs" / "scoring.md").read_text()
    for rule in DEFAULT_RULES:
        assert f"`{rule.id}`" in docs, rule.id


def test_rules_on_the_candidates_tests_earn_nothing_when_no_test_ran() -> None:
    """Coverage from imports, an HTTP client in a conftest.py: worth nothing until a test runs."""
    why = Finding(message="no tests found (pytest collected nothing)", rule="no-tests", category="testing")
    runner = Finding(message="tests run with `pytest`", rule="test-runner", category="testing", severity="info")
    metrics = {"tests_found": 0, "pass_rate": 0, "coverage_percent": 47, "http_tests": 1, "mocks_used": 1}
    run = CheckRun(id="candidate_tests", status="ok", metrics=metrics, findings=[why, runner])
    [result] = score_check_runs([run], DEFAULT_RULES)
    assert (result.score, result.max_score) == (0, 15 + 15 + 30 + 15 + 5)  # pass_rate is counted, not left out
    lost = {d.rule: d for d in result.deductions}
    assert {rule: d.points for rule, d in lost.items()} == {
        "candidate_tests.tests_found": 15, "candidate_tests.pass_rate": 15, "candidate_tests.coverage_percent": 30,
        "candidate_tests.http_tests": 15, "candidate_tests.mocks_used": 5}
    coverage = lost["candidate_tests.coverage_percent"]
    assert "no points, because tests_found = 0" in coverage.reason and "measured 47" in coverage.reason
    assert coverage.value == 47 and [e.rule for e in coverage.evidence] == ["no-tests"]
    # one test that ran restores the ordinary scale
    ran = run.model_copy(update={"metrics": {**metrics, "tests_found": 1, "pass_rate": 100}})
    [scored] = score_check_runs([ran], DEFAULT_RULES)
    assert scored.score == round(15 / 8 + 15 + 30 * (47 - 20) / 60 + 15 + 5, 2)


def test_review_asks_about_the_missing_tests_not_about_their_pass_rate() -> None:
    why = Finding(message="no tests found (`python manage.py test` ran none)", rule="no-tests", category="testing")
    run = CheckRun(id="candidate_tests", status="ok", findings=[why],
                   metrics={"tests_found": 0, "pass_rate": 0, "coverage_percent": 0, "http_tests": 0, "mocks_used": 0})
    checks = score_check_runs([run], DEFAULT_RULES)
    review = build_review(checks, score_categories(checks, {"testing": 15})[0])
    assert any(q.startswith("The submission has 0 tests of its own") for q in review.questions)
    assert not any("Some of your own tests fail" in q or "Your tests cover" in q for q in review.questions)
    # one cause, once: the rules that need a test to run join the missing tests' concern
    assert review.concerns == ["No tests of its own: \N{MINUS SIGN}100 of 100."]
