"""The scoring rules: how each metric of each check turns into points of a scorecard category.

Every default lives here, in one table, and `docs/scoring.md` explains each row. A challenge may change a
rule's points or thresholds in `challenge.toml` (`[scoring.rules."<rule id>"]`) and the points its hidden
tests are worth per category (`[scoring.hidden_points]`).

Rules with a `practice` measure a repository practice an assignment may or may not ask for (migrations, a
Dockerfile, CI, ...). They are charged only when the challenge lists the practice in `[practices] asked`;
otherwise they stay in the table with `charged=False`, which scoring reads as "report the findings for
information, count nothing". An asked practice's points are set in `[practices] points`, never per rule.

A rule earns its full points when the metric is at `good` (or better), none at `bad` (or worse), and a
straight-line share in between; `good` may be above or below `bad`, so one shape serves "more is better"
and "less is better". A rule whose metric is missing, negative (the check's "not applicable"), or whose
`requires` metric is not above zero gives no evidence either way and is left out. A rule whose
`zero_unless` metric is not above zero earns nothing, whatever its own metric says (coverage when none of
the candidate's tests ran), and its deduction says why.

Code that does not parse is failing, not absent: `lint.files_not_parsed` costs its points as soon as one
file does not parse, and every rule of a check that reports `parsed_share` (lint, typecheck, complexity)
earns at most that share of its points (see `grader.scoring.parsed_fraction`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from fnmatch import fnmatch

from grader.models import Practices, ScoringConfig


@dataclass(frozen=True)
class Rule:
    """One metric's contribution to one category."""

    check: str
    metric: str
    category: str
    points: float
    good: float
    bad: float
    explain: str  # what the metric says about the candidate, for deductions and docs
    requires: str | None = None  # another metric of the same check that must be > 0 for this rule to apply
    evidence: tuple[str, ...] = ()  # finding rules (fnmatch patterns) that explain a deduction; () = all
    practice: str | None = None  # the repository practice this rule measures (models.PRACTICES); None = always on
    charged: bool = True  # False: a practice the assignment does not ask for, reported for information only
    zero_unless: str | None = None  # another metric of the same check that must be > 0 for any points

    def explains(self, finding_rule: str | None) -> bool:
        """Whether a finding with this rule id is evidence for this rule's deduction."""
        return not self.evidence or any(fnmatch(finding_rule or "", pattern) for pattern in self.evidence)

    @property
    def id(self) -> str:
        return f"{self.check}.{self.metric}"

    def earned(self, value: float) -> float:
        """Points earned for `value`: full at `good`, none at `bad`, linear in between."""
        if self.good == self.bad:
            return self.points if _at_least_as_good(value, self.good, self.good >= self.bad) else 0.0
        share = (value - self.bad) / (self.good - self.bad)
        return round(self.points * min(1.0, max(0.0, share)), 4)


def _at_least_as_good(value: float, good: float, higher_is_better: bool) -> bool:
    return value >= good if higher_is_better else value <= good


# Points a category's hidden tests are worth, when the challenge has hidden tests in that category.
DEFAULT_HIDDEN_POINTS: dict[str, float] = {
    "api_design": 100,
    "databases": 80,
    "observability": 60,
    "infrastructure": 40,
    "python_fundamentals": 30,
    "testing": 20,
}

DEFAULT_RULES: tuple[Rule, ...] = (
    # --- python_fundamentals -------------------------------------------------------------------------
    Rule("typecheck", "errors_per_100_lines", "python_fundamentals", 20, 0, 5,
         "mypy --strict errors per 100 lines of application code"),
    Rule("typecheck", "annotation_share", "python_fundamentals", 20, 90, 20,
         "share of functions and parameters with type hints (%)"),
    Rule("lint", "python_fundamentals_per_kloc", "python_fundamentals", 15, 0, 15,
         "fundamentals lint findings (bare/broad excepts, mutable defaults, unused names) per 1000 lines"),
    Rule("lint", "files_not_parsed", "python_fundamentals", 20, 0, 1,
         "Python files that do not parse (syntax errors, Python 2 code)", requires="files_not_parsed",
         evidence=("syntax-error",)),
    Rule("complexity", "average_cc", "python_fundamentals", 8, 4, 10,
         "average cyclomatic complexity per function"),
    Rule("complexity", "functions_over_10", "python_fundamentals", 8, 0, 4,
         "functions with cyclomatic complexity above 10"),
    Rule("practices", "idiom_share", "python_fundamentals", 10, 80, 20,
         "share of applicable idioms used (context managers, generators, decorators, logging, async handlers) (%)",
         evidence=("no-context-managers", "no-generators", "no-defines-decorators", "no-async-handlers",
                   "no-logging*")),
    Rule("practices", "blocking_calls_in_async", "python_fundamentals", 5, 0, 2,
         "blocking calls (time.sleep, requests, open) inside async functions", evidence=("blocking*",)),
    # --- databases -----------------------------------------------------------------------------------
    Rule("practices", "has_migrations", "databases", 20, 1, 0, "schema migrations committed (1 = yes)",
         evidence=("no-migrations",), practice="migrations"),
    # --- testing -------------------------------------------------------------------------------------
    Rule("candidate_tests", "tests_found", "testing", 15, 8, 0, "tests of the candidate's own suite that ran",
         evidence=("no-tests", "tests-*", "test-error", "runner-notes")),
    Rule("candidate_tests", "pass_rate", "testing", 15, 100, 50, "share of the candidate's own tests passing (%)",
         zero_unless="tests_found", evidence=("test-*", "tests-*", "no-tests")),
    Rule("candidate_tests", "coverage_percent", "testing", 30, 80, 20,
         "line+branch coverage of application code by the candidate's tests (%)", zero_unless="tests_found"),
    Rule("candidate_tests", "http_tests", "testing", 15, 1, 0, "tests exercise HTTP endpoints (1 = yes)",
         zero_unless="tests_found"),
    # 0 as well when a test called the challenge's upstream for real: the tests that did are its evidence.
    Rule("candidate_tests", "mocks_used", "testing", 5, 1, 0, "tests isolate collaborators with mocks/monkeypatch",
         zero_unless="tests_found", evidence=("calls-real-upstream", "no-mocks")),
    Rule("practices", "has_ci_config", "testing", 15, 1, 0, "a CI configuration runs the tests (1 = yes)",
         evidence=("no-ci",), practice="ci"),
    # --- infrastructure ------------------------------------------------------------------------------
    Rule("practices", "has_dockerfile", "infrastructure", 15, 1, 0, "a Dockerfile is present (1 = yes)",
         evidence=("no-dockerfile",), practice="dockerfile"),
    Rule("practices", "dockerfile_issues", "infrastructure", 5, 0, 5, "Dockerfile lint issues",
         requires="has_dockerfile", evidence=("DL*", "SC*", "GDF*"), practice="dockerfile"),
    Rule("practices", "pinned_share", "infrastructure", 10, 100, 0, "share of dependencies pinned or locked (%)",
         evidence=("unpinned-dependencies", "no-dependency-manifest"), practice="pinned_dependencies"),
    Rule("practices", "has_env_example", "infrastructure", 10, 1, 0,
         "configuration documented in an .env.example (1 = yes)", evidence=("no-env-example",),
         practice="env_example"),
    Rule("practices", "committed_env_file", "infrastructure", 5, 0, 1, "a real .env file is committed (1 = yes)",
         evidence=("*env-file*",)),
    Rule("practices", "secrets_found", "infrastructure", 20, 0, 1, "secrets committed to the repository",
         evidence=("secret*",)),
    Rule("practices", "has_readme_run_instructions", "infrastructure", 10, 1, 0,
         "the README says how to run the service (1 = yes)", evidence=("no-readme*",), practice="readme"),
    Rule("lint", "infrastructure_findings", "infrastructure", 15, 0, 3,
         "security lint findings (hard-coded passwords, shell=True, SQL built from strings)"),
    # --- observability -------------------------------------------------------------------------------
    Rule("lint", "observability_findings", "observability", 15, 0, 5,
         "print() instead of logging, exceptions logged without traceback"),
    Rule("practices", "logging_configured", "observability", 25, 1, 0, "logging is configured (1 = yes)",
         evidence=("no-logging*",), practice="logging"),
)


def effective_rules(config: ScoringConfig, practices: Practices) -> tuple[Rule, ...]:
    """The default rules with the challenge's overrides and practices applied; unknown rule ids are an error.

    A practice rule is charged only when `practices.asked` lists its practice; `practices.points` scales
    the practice's rules so that together they are worth that many points.
    """
    known = {rule.id for rule in DEFAULT_RULES}
    unknown = sorted(set(config.rules) - known)
    if unknown:
        raise ValueError(f"unknown scoring rules {unknown}; known rules: {sorted(known)}")
    misplaced = sorted(rule_id for rule_id, override in config.rules.items()
                       if override.points is not None and rule_id in practice_rule_ids())
    if misplaced:
        raise ValueError(f"the points of {misplaced} belong to a practice: set them in [practices] points")
    rules = []
    for rule in DEFAULT_RULES:
        override = config.rules.get(rule.id)
        if override is not None:
            changes = {k: v for k, v in override.model_dump().items() if v is not None}
            rule = replace(rule, **changes)
        rules.append(_as_asked(rule, practices))
    return tuple(rules)


def _as_asked(rule: Rule, practices: Practices) -> Rule:
    """The rule charged at the practice's points when the assignment asks for it, else information only."""
    if rule.practice is None:
        return rule
    if rule.practice not in practices.asked:
        return replace(rule, charged=False)
    wanted = practices.points.get(rule.practice)
    if wanted is None:
        return rule
    default = practice_points(rule.practice)
    return replace(rule, points=round(rule.points * wanted / default, 4) if default else 0.0)


def practice_rule_ids() -> set[str]:
    """Ids of the rules that measure a practice (charged only when the assignment asks for it)."""
    return {rule.id for rule in DEFAULT_RULES if rule.practice is not None}


def practice_points(practice: str) -> float:
    """What a practice is worth by default: the points of its rules together."""
    return sum(rule.points for rule in DEFAULT_RULES if rule.practice == practice)


def hidden_points(config: ScoringConfig) -> dict[str, float]:
    """Points per category for hidden tests, defaults overridden by the challenge."""
    return {**DEFAULT_HIDDEN_POINTS, **config.hidden_points}

