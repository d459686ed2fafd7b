"""Turn check results into the six scorecard categories and an overall score.

Rules, so every point can be explained:
- a category's score is 100 x (points earned / points possible) over the checks that fed it and ran;
- a check that could not run (status `error`) or was skipped gives no evidence either way;
- a category with no evidence is reported as not evaluated (score null), never as 0 or 100;
- the overall score is the weighted mean over evaluated categories, and `evaluated_weight` says how
  much of the scorecard that covers;
- a practice the assignment does not ask for (a rule with `charged=False`) counts neither as points lost
  nor as points possible: its findings are kept as information;
- one committed secret costs once: when the practices check (detect-secrets) and lint (ruff S105-S107)
  both report it at the same file:line, it is deducted under `practices.secrets_found` only.
- when the app never became ready, the categories the challenge's suite measures were not measured and
  count as 0 (no credit for an app no one could use); the static-only categories keep their score.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from checks.formats import LINT_SECRET_RULES, PRACTICES_SECRET_RULE
from grader.models import (
    CATEGORY_IDS,
    PUBLIC_SUITE,
    CategoryScore,
    CheckResult,
    CheckRun,
    CheckStatus,
    Deduction,
    Finding,
    Severity,
)
from grader.rules import Rule

SCORED_STATUSES = (CheckStatus.PASSED, CheckStatus.FAILED)


def score_categories(
    checks: Sequence[CheckResult], weights: Mapping[str, int], app_ran: bool = True,
) -> tuple[list[CategoryScore], float | None, float]:
    """(categories, overall 0-100 or None, share of total weight evaluated 0-100).

    `app_ran=False` (the app never became ready): every category the challenge's suite has tests in was not
    measured and counts as 0 in the overall (`counts_as_zero`); the others keep their static score.
    """
    categories = [_score_category(category, weights.get(category, 0), checks) for category in CATEGORY_IDS]
    if not app_ran:
        categories = [_counted_as_zero(c, checks) if _measured_by_suite(c.id, checks) else c for c in categories]
    total_weight = sum(weights.get(category, 0) for category in CATEGORY_IDS)
    evaluated = [c for c in categories if c.evaluated and c.weight > 0]
    evaluated_weight = sum(c.weight for c in evaluated)
    counted_weight = evaluated_weight + sum(c.weight for c in categories if c.counts_as_zero and c.weight > 0)
    if not counted_weight or total_weight <= 0:
        return categories, None, 0.0
    overall = sum(c.weight * (c.score or 0.0) for c in evaluated) / counted_weight
    return categories, round(overall, 1), round(100 * evaluated_weight / total_weight, 1)


def _measured_by_suite(category: str, checks: Sequence[CheckResult]) -> bool:
    """Whether the challenge's suite has tests in this category (only a running app can pass them)."""
    return any(c.category == category and c.suite is not None and c.max_score > 0 for c in checks)


def _counted_as_zero(category: CategoryScore, checks: Sequence[CheckResult]) -> CategoryScore:
    """A category the suite measures, when the app never became ready: 0, with its static points in the note."""
    static = [c for c in checks if c.category == category.id and c.suite is None
              and c.status in SCORED_STATUSES and c.max_score > 0]
    earned, possible = sum(c.score for c in static), sum(c.max_score for c in static)
    aside = f" (the static checks alone gave {earned:g}/{possible:g} points)" if possible else ""
    return category.model_copy(update={
        "score": 0.0, "evaluated": False, "counts_as_zero": True,
        "note": f"counts as 0: the app never became ready, so the tests of this category could not run{aside}",
    })


def _score_category(category: str, weight: int, checks: Sequence[CheckResult]) -> CategoryScore:
    feeding = [c for c in checks if c.category == category]
    scored = [c for c in feeding if c.status in SCORED_STATUSES and c.max_score > 0]
    if not scored:
        # A result worth no points (the candidate's Dockerfile) is information: it measured nothing.
        measuring = [c for c in feeding if c.max_score > 0 or c.status == CheckStatus.ERROR]
        note = "no check measured this category" if not measuring else "its checks could not run"
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


# --- static checks: metrics -> points, with the evidence for every point lost -------------------------

EVIDENCE_PER_DEDUCTION = 5


def score_check_runs(runs: Sequence[CheckRun], rules: Sequence[Rule]) -> list[CheckResult]:
    """One CheckResult per (check, category) the rules map the check's metrics onto."""
    results: list[CheckResult] = []
    for run in count_each_secret_once(runs):
        categories = sorted({rule.category for rule in rules if rule.check == run.id})
        for category in categories:
            category_rules = [rule for rule in rules if rule.check == run.id and rule.category == category]
            results.append(_score_run(run, category, category_rules))
    return results


def _score_run(run: CheckRun, category: str, rules: Sequence[Rule]) -> CheckResult:
    not_asked = [rule for rule in rules if not rule.charged and rule.evidence]
    findings = [_not_asked(f) if any(rule.explains(f.rule) for rule in not_asked) else f
                for f in run.findings if f.category == category]
    if run.status == "error":
        return CheckResult(
            id=f"{run.id}/{category}", category=category, status=CheckStatus.ERROR, score=0, max_score=0,
            summary=f"could not run: {run.error}", duration_s=run.duration_s, metrics=run.metrics,
            findings=findings,
        )
    applicable = [rule for rule in rules if rule.charged and _applies(rule, run.metrics)]
    zeroed = {rule.id: _zeroed_by(rule, run.metrics) for rule in applicable}
    fraction = parsed_fraction(run.metrics)
    unscaled = {rule.id: 0.0 if zeroed[rule.id] else rule.earned(run.metrics[rule.metric]) for rule in applicable}
    earned = {rule_id: round(points * fraction, 4) for rule_id, points in unscaled.items()}
    score = round(sum(earned.values()), 2)
    possible = round(sum(rule.points for rule in applicable), 2)
    deductions = [
        _deduction(rule, run.metrics[rule.metric], rule.points - earned[rule.id], findings, zeroed[rule.id], rules)
        for rule in applicable
        if rule.points - earned[rule.id] > 0.005
    ]
    metrics = {rule.metric: run.metrics[rule.metric] for rule in applicable}
    if fraction < 1:  # say so where the unparsed code cost points the metric alone would have earned
        deductions = [_blame_unparsed_code(d, run) if unscaled[d.rule] > earned[d.rule] + 0.005 else d
                      for d in deductions]
        metrics[PARSED_SHARE] = run.metrics[PARSED_SHARE]
    status = CheckStatus.SKIPPED if possible == 0 else (
        CheckStatus.PASSED if score >= possible else CheckStatus.FAILED
    )
    return CheckResult(
        id=f"{run.id}/{category}", category=category, status=status, score=score, max_score=possible,
        summary=f"{score:g}/{possible:g} points from {len(applicable)} rule(s)", duration_s=run.duration_s,
        metrics=metrics, findings=findings, deductions=deductions,
    )


NOT_ASKED = "not asked for by this assignment: for information, it costs nothing"
COUNTED_ONCE = "the same secret as the practices check found here: counted once, under practices.secrets_found"


def _not_asked(finding: Finding) -> Finding:
    """A finding of a practice the assignment does not ask for, kept as information."""
    return finding.model_copy(update={"severity": Severity.INFO, "message": f"{finding.message} ({NOT_ASKED})"})


def count_each_secret_once(runs: Sequence[CheckRun]) -> list[CheckRun]:
    """Lint's hard-coded-secret findings at a file:line where the practices check found a secret become
    information and leave lint's infrastructure count, so that secret is deducted once, at full weight."""
    practices = next((run for run in runs if run.id == "practices" and run.status == "ok"), None)
    if practices is None:
        return list(runs)
    secrets = {(f.file, f.line) for f in practices.findings
               if f.rule == PRACTICES_SECRET_RULE and f.file is not None and f.line is not None}
    return [_without_secrets(run, secrets) if run.id == "lint" and run.status == "ok" else run for run in runs]


def _without_secrets(lint: CheckRun, secrets: set[tuple[str, int]]) -> CheckRun:
    findings, repeated = [], 0
    for finding in lint.findings:
        if (finding.rule in LINT_SECRET_RULES and finding.severity != Severity.INFO
                and (finding.file, finding.line) in secrets):
            finding = finding.model_copy(update={"severity": Severity.INFO,
                                                 "message": f"{finding.message} ({COUNTED_ONCE})"})
            repeated += 1
        findings.append(finding)
    if not repeated:
        return lint
    metrics = dict(lint.metrics)
    count = metrics.get("infrastructure_findings", 0.0)
    if count > 0:
        metrics["infrastructure_findings"] = max(0.0, count - repeated)
        if "infrastructure_per_kloc" in metrics:
            metrics["infrastructure_per_kloc"] = round(
                metrics["infrastructure_per_kloc"] * metrics["infrastructure_findings"] / count, 2)
    return lint.model_copy(update={"findings": findings, "metrics": metrics})


PARSED_SHARE = "parsed_share"
UNPARSED_RULE = "syntax-error"


def parsed_fraction(metrics: Mapping[str, float]) -> float:
    """The share (0-1) of its code a check could parse (`parsed_share`); 1 for a check that does not say.

    The lines of a file that does not parse count as failing: every rule of such a check earns at most this
    share of its points, so code that does not parse never earns the points of code that was never checked.
    """
    value = metrics.get(PARSED_SHARE)
    if value is None or value < 0:
        return 1.0
    return min(1.0, value / 100)


def _blame_unparsed_code(deduction: Deduction, run: CheckRun) -> Deduction:
    """A deduction of a check that could not parse all its code: say so, with the syntax errors first."""
    unparsed = [f for f in run.findings if f.rule == UNPARSED_RULE]
    reason = (f"{deduction.reason}; only {run.metrics[PARSED_SHARE]:g}% of the code parses, and a rule earns at most "
              "that share of its points")
    evidence = [*unparsed, *(e for e in deduction.evidence if e.rule != UNPARSED_RULE)][:EVIDENCE_PER_DEDUCTION]
    return deduction.model_copy(update={"reason": reason, "evidence": evidence})


def _applies(rule: Rule, metrics: dict[str, float]) -> bool:
    value = metrics.get(rule.metric)
    if value is None or value < 0:  # negative: the check says "not applicable here"
        return False
    return rule.requires is None or metrics.get(rule.requires, 0) > 0


def _zeroed_by(rule: Rule, metrics: dict[str, float]) -> str | None:
    """The `zero_unless` metric that takes this rule's points away (not above zero), else None."""
    if rule.zero_unless is None or metrics.get(rule.zero_unless, 0) > 0:
        return None
    return rule.zero_unless


def _deduction(rule: Rule, value: float, lost: float, findings: Sequence[Finding], zeroed: str | None = None,
               rules: Sequence[Rule] = ()) -> Deduction:
    reason = f"{rule.explain}: {value:g} (full points at {rule.good:g}, none at {rule.bad:g})"
    explains = rule.explains
    if zeroed is not None:  # the evidence is why the metric it depends on is zero
        gate = next((other for other in rules if other.metric == zeroed), None)
        explains = gate.explains if gate is not None else explains
        what = f" ({gate.explain})" if gate is not None else ""
        reason = f"{rule.explain}: no points, because {zeroed} = 0{what}; measured {value:g}"
    return Deduction(
        rule=rule.id, category=rule.category, points=round(lost, 2), reason=reason,
        metric=rule.metric, value=value, good=rule.good, bad=rule.bad,
        evidence=[f for f in findings if explains(f.rule)][:EVIDENCE_PER_DEDUCTION],
    )


def scale_hidden_results(results: Sequence[CheckResult], points: dict[str, float]) -> list[CheckResult]:
    """Hidden tests scored by weight become the category's configured points, one deduction per failure."""
    scaled: list[CheckResult] = []
    for result in results:
        worth = points.get(result.category, 0.0)
        if result.max_score <= 0 or worth <= 0:
            scaled.append(result)
            continue
        per_test = worth / result.max_score
        suite = "public test" if result.suite == PUBLIC_SUITE else "hidden test"  # `grader check`
        deductions = [
            Deduction(
                rule=test.name, category=result.category, points=round(per_test * test.weight, 2),
                reason=f"{suite} {test.name} {test.outcome}: {test.message or 'no message'}",
                evidence=[f for f in result.findings if f.rule == test.name][:1],
            )
            for test in result.tests if test.outcome in ("failed", "error")
        ]
        scaled.append(result.model_copy(update={
            "score": round(result.score * per_test, 2), "max_score": worth, "deductions": deductions,
        }))
    return scaled
