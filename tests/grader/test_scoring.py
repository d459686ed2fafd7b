from grader.models import DEFAULT_WEIGHTS, CheckResult, CheckStatus
from grader.scoring import score_categories


def check(category: str, score: float, max_score: float, status: CheckStatus = CheckStatus.FAILED) -> CheckResult:
    return CheckResult(id=f"c/{category}", category=category, status=status, score=score, max_score=max_score)


def by_id(categories):  # type: ignore[no-untyped-def]
    return {c.id: c for c in categories}


def test_category_score_is_share_of_points() -> None:
    categories, overall, evaluated = score_categories(
        [check("api_design", 3, 4), check("api_design", 1, 1, CheckStatus.PASSED)], DEFAULT_WEIGHTS
    )
    api = by_id(categories)["api_design"]
    assert api.score == 80.0 and api.evaluated
    assert overall == 80.0
    assert evaluated == 20.0


def test_unmeasured_category_is_not_scored_as_zero() -> None:
    categories, overall, evaluated = score_categories([check("databases", 1, 2)], DEFAULT_WEIGHTS)
    testing = by_id(categories)["testing"]
    assert testing.score is None and not testing.evaluated
    assert testing.note == "no check measured this category"
    assert overall == 50.0
    assert evaluated == 20.0


def test_weighted_overall_across_categories() -> None:
    checks = [check("api_design", 1, 1), check("observability", 0, 1)]
    _, overall, evaluated = score_categories(checks, DEFAULT_WEIGHTS)
    # (20 * 100 + 10 * 0) / 30
    assert overall == 66.7
    assert evaluated == 30.0


def test_check_that_could_not_run_gives_no_evidence() -> None:
    categories, overall, _ = score_categories([check("testing", 0, 5, CheckStatus.ERROR)], DEFAULT_WEIGHTS)
    assert by_id(categories)["testing"].note == "its checks could not run"
    assert overall is None


def test_zero_weight_category_does_not_count() -> None:
    weights = dict(DEFAULT_WEIGHTS, observability=0)
    _, overall, _ = score_categories([check("observability", 0, 1), check("api_design", 1, 1)], weights)
    assert overall == 100.0


def test_hidden_points_are_shared_by_weight_and_each_failure_costs_its_share() -> None:
    from grader.models import TestCase
    from grader.scoring import scale_hidden_results

    tests = [TestCase(name="heavy", nodeid="t::heavy", category="databases", outcome="failed", weight=3),
             TestCase(name="light", nodeid="t::light", category="databases", outcome="passed", weight=1)]
    raw = CheckResult(id="hidden-tests/databases", category="databases", status=CheckStatus.FAILED, score=1,
                      max_score=4, tests=tests)
    [scaled] = scale_hidden_results([raw], {"databases": 80})
    assert (scaled.score, scaled.max_score) == (20, 80)
    assert [(d.rule, d.points) for d in scaled.deductions] == [("heavy", 60)]
