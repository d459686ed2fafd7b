"""Turn check results into the six scorecard categories and an overall score.

Rules, so every point can be explained:
- a category's score is 100 x (points earned / points possible) over the checks that fed it and ran;
- a check that could not run (status `error`) or was skipped gives no evidence either way;
- a category with no evidence is reported as not evaluated (score null), never as 0 or 100;
- the overall score is the weighted mean over evaluated categories, and `evaluated_weight` says how
  much of the scorecard that covers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from grader.models import CATEGORY_IDS, CategoryScore, CheckResult, CheckStatus

SCORED_STATUSES = (CheckStatus.PASSED, CheckStatus.FAILED)


def score_categories(
    checks: Sequence[CheckResult], weights: Mapping[str, int]
) -> tuple[list[CategoryScore], float | None, float]:
    """(categories, overall 0-100 or None, share of total weight evaluated 0-100)."""
    categories = [_score_category(category, weights.get(category, 0), checks) for category in CATEGORY_IDS]
    total_weight = sum(weights.get(category, 0) for category in CATEGORY_IDS)
    evaluated = [c for c in categories if c.evaluated and c.weight > 0]
    evaluated_weight = sum(c.weight for c in evaluated)
    if not evaluated or total_weight <= 0:
        return categories, None, 0.0
    overall = sum(c.weight * (c.score or 0.0) for c in evaluated) / evaluated_weight
    return categories, round(overall, 1), round(100 * evaluated_weight / total_weight, 1)


def _score_category(category: str, weight: int, checks: Sequence[CheckResult]) -> CategoryScore:
    feeding = [c for c in checks if c.category == category]
    scored = [c for c in feeding if c.status in SCORED_STATUSES and c.max_score > 0]
    if not scored:
        note = "no check measured this category" if not feeding else "its checks could not run"
        return CategoryScore(
            id=category, weight=weight, score=None, evaluated=False, checks=[c.id for c in feeding], note=note
        )
    earned = sum(c.score for c in scored)
    possible = sum(c.max_score for c in scored)
    return CategoryScore(
        id=category,
        weight=weight,
        score=round(100 * earned / possible, 1),
        evaluated=True,
        checks=[c.id for c in feeding],
        note=f"{earned:g}/{possible:g} points from {len(scored)} check(s)",
    )
