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


# --- an app that never became ready ------------------------------------------------------------------------


def suite(category: str, kind: str = "hidden-tests") -> CheckResult:
    """A suite whose every test failed because the app never answered."""
    return CheckResult(id=f"{kind}/{category}", category=category, status=CheckStatus.FAILED, score=0, max_score=50)


def test_categories_the_suite_measures_count_as_zero_when_the_app_did_not_run() -> None:
    checks = [suite("api_design"), suite("databases"), check("databases", 20, 20, CheckStatus.PASSED),
              check("python_fundamentals", 80, 100), check("testing", 50, 100)]
    ran_categories, ran_overall, ran_evaluated = score_categories(checks, DEFAULT_WEIGHTS)
    categories, overall, evaluated = score_categories(checks, DEFAULT_WEIGHTS, app_ran=False)
    databases = by_id(categories)["databases"]
    assert databases.counts_as_zero and not databases.evaluated and databases.score == 0
    assert "the static checks alone gave 20/20 points" in databases.note
    assert by_id(categories)["python_fundamentals"].score == 80 and by_id(categories)["testing"].evaluated
    # (20 * 80 + 15 * 50) / (20 + 15 + 20 + 20): the static-only categories, over them and the zeroed ones
    assert overall == round((20 * 80 + 15 * 50) / 75, 1)
    assert evaluated == 35.0
    # the same checks with a running app: databases' static points lifted the overall and it covered 75%
    assert ran_overall is not None and ran_overall > overall and ran_evaluated == 75.0
    assert not any(c.counts_as_zero for c in ran_categories)


def test_an_app_that_did_not_run_with_only_suite_categories_scores_zero() -> None:
    checks = [suite("api_design", "public-tests"), suite("observability", "public-tests")]
    categories, overall, evaluated = score_categories(checks, DEFAULT_WEIGHTS, app_ran=False)
    assert overall == 0.0 and evaluated == 0.0
    assert [c.id for c in categories if c.counts_as_zero] == ["api_design", "observability"]
