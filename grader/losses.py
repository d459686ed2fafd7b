"""Where the points went, in one unit: points of the overall score (out of 100).

A deduction is recorded in its check's points (`Deduction.points`, on the check's `max_score` scale), and a
category's checks may be worth 86 or 300 points between them. A report that ranked those numbers side by
side would rank a -25 in a light category above a failed test in a heavy one, so every list that ranks
losses (the report's "Where points were lost", `summary.md`, `grader check`'s fixes, the review's concerns)
ranks `Loss` records instead:

- a deduction's cost is `points / category points possible x category weight / weight counted x 100`,
  exactly what removing it would add to the overall score;
- the deductions a gate takes away (coverage, pass rate, ... when none of the candidate's tests ran) are one
  loss with their gate: one cause, counted once;
- the failed tests of the challenge's suite are one loss per category ("3 of 10 API design behaviours
  fail"), each failed behaviour listed with its own cost;
- when the app never became ready, the categories its tests measure count as 0: that is one loss, the
  app's, worth what those categories weigh.

Every loss has a plain-language title and what to do, from templates (deterministic); the rule's formula
stays in `detail`, for a details row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from grader.app_log import not_ready_sentence
from grader.models import CategoryScore, CheckResult, CheckStatus, Deduction, TestCase, category_title
from grader.rules import DEFAULT_RULES
from grader.scoring import UNPARSED_RULE

# rule id -> the metric whose zero takes the rule's points away (coverage when no test ran)
ZERO_UNLESS = {rule.id: rule.zero_unless for rule in DEFAULT_RULES if rule.zero_unless}
RULE_EXPLAIN = {rule.id: rule.explain for rule in DEFAULT_RULES}
SUITE_RULE = "tests:"  # a loss's rule for a category's failed suite tests: `tests:<category>`
APP_RULE = "app-did-not-run"
TOP_LOSSES = 6
MAX_NAMED = 3  # failed behaviours named in a loss's title (all are listed in `behaviours`)

# rule id -> (what is wrong, what to do). `{value}` is the measured metric, rounded for people.
PLAIN: dict[str, tuple[str, str]] = {
    "typecheck.errors_per_100_lines": ("mypy --strict finds {value} type errors per 100 lines",
                                       "annotate the functions and fix the reported type errors until "
                                       "`mypy --strict` is clean"),
    "typecheck.annotation_share": ("Only {value}% of functions and parameters have type hints",
                                   "add type hints to every function's parameters and return value"),
    "lint.python_fundamentals_per_kloc": ("Error-prone Python: bare or broad excepts, mutable defaults or unused "
                                          "names", "catch specific exceptions, default to None instead of a "
                                          "mutable value, and remove unused names"),
    "lint.files_not_parsed": ("Some Python files do not parse",
                              "fix the syntax errors (`python -m py_compile FILE` shows each one)"),
    "complexity.average_cc": ("Functions are hard to follow: average complexity {value}",
                              "split long functions into smaller ones with one job each"),
    "complexity.functions_over_10": ("{value} function(s) too complex to follow (more than 10 branches)",
                                     "split each listed function into smaller ones with one job each"),
    "practices.idiom_share": ("Few Python idioms where they fit (context managers, generators, decorators, "
                              "logging)", "use `with` for resources, generators for sequences, and logging "
                              "instead of print()"),
    "practices.blocking_calls_in_async": ("Blocking calls inside async handlers stall every other request",
                                          "use async libraries (httpx, asyncio.sleep) or make the handler a "
                                          "plain `def`"),
    "practices.has_migrations": ("No schema migrations: the database cannot evolve safely",
                                 "add a migration tool (Alembic, Flask-Migrate, Django) and commit the migrations"),
    "candidate_tests.tests_found": ("Only {value} tests of its own",
                                    "write tests for the main behaviours with the framework's test client"),
    "candidate_tests.pass_rate": ("Some of its own tests fail ({value}% pass)",
                                  "fix or remove the failing tests so the suite is green"),
    "candidate_tests.coverage_percent": ("Its own tests cover {value}% of the code",
                                         "add tests for the untested paths, error cases first"),
    "candidate_tests.http_tests": ("No test of its own calls the API over HTTP",
                                   "test the endpoints through the framework's test client"),
    "candidate_tests.mocks_used": ("Its tests do not isolate collaborators",
                                   "replace external services with monkeypatch or mocks in tests"),
    "practices.has_ci_config": ("No CI runs the tests", "add a CI workflow that runs the tests on every push"),
    "practices.has_dockerfile": ("No Dockerfile: the service cannot be shipped as a container",
                                 "add a Dockerfile that installs the dependencies and starts the app"),
    "practices.dockerfile_issues": ("The Dockerfile has {value} lint issue(s)",
                                    "fix the listed Dockerfile issues (pinned base image, no root user, ...)"),
    "practices.pinned_share": ("Dependencies are not pinned ({value}% pinned): builds are not reproducible",
                               "pin exact versions or commit a lock file"),
    "practices.has_env_example": ("The configuration is not documented (no .env.example)",
                                  "add an .env.example listing every environment variable the service reads"),
    "practices.committed_env_file": ("A real .env file is committed",
                                     "remove .env from git, ignore it, and rotate the values it held"),
    "practices.secrets_found": ("A secret is committed to the repository",
                                "read secrets from the environment and rotate the leaked value"),
    "practices.has_readme_run_instructions": ("The README does not say how to run the service",
                                              "add the install and run commands to the README"),
    "lint.infrastructure_findings": ("Security issues in the code (hard-coded passwords, shell=True, SQL built "
                                     "from strings)", "fix each listed finding: parameterised SQL, no shell=True, "
                                     "secrets from the environment"),
    "lint.observability_findings": ("Prints instead of logging, or logs errors without their traceback",
                                    "use the logging module, and `logger.exception` inside except blocks"),
    "practices.logging_configured": ("No structured logging: requests leave no trace in the logs",
                                     "configure logging at startup (logging.basicConfig or dictConfig)"),
}
UNPARSED_ONLY = ("Some Python files do not parse, so {check} counts only the code that does",
                 "fix the syntax errors (`python -m py_compile FILE` shows each one); the rest of the code "
                 "already meets this rule")
NO_TESTS = ("No tests of its own", "write tests for the main behaviours with the framework's test client")
SUITE_ADVICE = "make these behaviours work as the assignment describes (the public tests show how they are checked)"


@dataclass(frozen=True)
class Behaviour:
    """One failed test of the challenge's suite (parametrized cases of one test together) and its cost."""

    name: str  # the test function's name (reviewer only)
    text: str  # the name in words: `create returns 201 with note`
    message: str  # the first failure's first line (reviewer only)
    points: float  # of the overall 100


@dataclass(frozen=True)
class Loss:
    """One cause of lost points and what it cost, in points of the overall score."""

    category: str
    rule: str  # scoring rule id, `tests:<category>` or `app-did-not-run`
    points: float  # of the overall 100
    title: str  # what is wrong, in plain language
    advice: str  # what to do
    summary: str = ""  # the title without test names (`3 of 10 API design behaviours fail`), for the candidate
    where: str = ""  # file:line of the first piece of evidence
    detail: str = ""  # the rule's formula and measured value, for a details row
    deductions: tuple[Deduction, ...] = ()
    behaviours: tuple[Behaviour, ...] = field(default_factory=tuple)

    @property
    def is_suite(self) -> bool:
        """Whether this loss is the challenge suite's failed tests (names and messages are reviewer-only)."""
        return self.rule.startswith(SUITE_RULE)


def overall_factors(checks: Sequence[CheckResult], categories: Sequence[CategoryScore]) -> dict[str, float]:
    """Per evaluated category: what one of its check points is worth in points of the overall score."""
    counted = sum(c.weight for c in categories if c.weight > 0 and (c.evaluated or c.counts_as_zero))
    possible: dict[str, float] = {}
    for check in checks:
        if check.status in (CheckStatus.PASSED, CheckStatus.FAILED) and check.max_score > 0:
            possible[check.category] = possible.get(check.category, 0.0) + check.max_score
    return {c.id: 100 * c.weight / counted / possible[c.id] for c in categories
            if c.evaluated and c.weight > 0 and counted and possible.get(c.id)}


def rank_losses(checks: Sequence[CheckResult], categories: Sequence[CategoryScore],
                app_problem: str | None = None) -> list[Loss]:
    """Every cause of lost points, largest first (ties: by category, then rule).

    `app_problem`: why the app never became ready (None when it ran): the suite's tests are then one loss.
    """
    factors = overall_factors(checks, categories)
    losses: list[Loss] = []
    for check in checks:
        factor = factors.get(check.category)
        if factor is None:
            continue
        if check.suite is not None:
            suite_loss = _suite_loss(check, factor)
            if suite_loss is not None and app_problem is None:
                losses.append(suite_loss)
        else:
            losses += _static_losses(check, factor)
    if app_problem is not None:
        losses.append(_app_loss(categories, app_problem))
    ranked = [loss for loss in losses if loss.points > 0]
    return sorted(ranked, key=lambda loss: (-loss.points, loss.category, loss.rule))


def _static_losses(check: CheckResult, factor: float) -> list[Loss]:
    """One loss per deduction; the deductions a zero gate takes away join their gate's loss."""
    gated: dict[str, list[Deduction]] = {}
    own: list[Deduction] = []
    for deduction in check.deductions:
        gate = ZERO_UNLESS.get(deduction.rule)
        if gate is not None and check.metrics.get(gate, 1) <= 0:
            gated.setdefault(f"{check.id.split('/')[0]}.{gate}", []).append(deduction)
        else:
            own.append(deduction)
    losses = []
    for deduction in own:
        joined = tuple(gated.pop(deduction.rule, []))
        losses.append(_deduction_loss(deduction, joined, factor))
    for leftover in gated.values():  # a gate that itself cost nothing (a challenge set its points to 0)
        losses += [_deduction_loss(d, (), factor) for d in leftover]
    return losses


def _deduction_loss(deduction: Deduction, joined: tuple[Deduction, ...], factor: float) -> Loss:
    title, advice = plain_text(deduction)
    detail = one_line(deduction.reason)
    if joined:  # the gate is zero: say once what it took away
        names = ", ".join(_metric_words(d) for d in joined)
        detail = f"{detail}; with it, {names} earn nothing"
    every = (deduction, *joined)
    points = round(sum(d.points for d in every) * factor, 2)
    return Loss(category=deduction.category, rule=deduction.rule, points=points, title=title, advice=advice,
                where=evidence_place(deduction), detail=detail, deductions=every)


def _metric_words(deduction: Deduction) -> str:
    return (deduction.metric or deduction.rule).replace("_", " ")


def plain_text(deduction: Deduction) -> tuple[str, str]:
    """(what is wrong, what to do) for a rule's deduction, from its template."""
    if deduction.rule == "candidate_tests.tests_found" and deduction.value == 0:
        return NO_TESTS
    if _lost_only_to_unparsed_code(deduction):  # "finds 0 type errors" would read as praise
        title, advice = UNPARSED_ONLY
        return title.format(check=deduction.rule.split(".", 1)[0]), advice
    template = PLAIN.get(deduction.rule)
    if template is None or (deduction.value is None and "{value}" in template[0]):  # no number to say
        explain = RULE_EXPLAIN.get(deduction.rule, deduction.rule).replace(" (1 = yes)", "")
        return explain[:1].upper() + explain[1:], template[1] if template else "see the evidence listed"
    title, advice = template
    return title.format(value=people_number(deduction.value)), advice


def _lost_only_to_unparsed_code(deduction: Deduction) -> bool:
    """Whether the measured value alone earns full points, and the points went because code does not parse."""
    if deduction.value is None or deduction.good is None or deduction.bad is None:
        return False
    if not any(finding.rule == UNPARSED_RULE for finding in deduction.evidence):
        return False
    if deduction.good < deduction.bad:  # lower is better (errors per 100 lines)
        return deduction.value <= deduction.good
    return deduction.value >= deduction.good


def rule_label(loss: Loss) -> str:
    """What a loss is about, without any one candidate's numbers (for a comparison's row)."""
    if loss.is_suite:
        return f"{category_title(loss.category)} behaviours that fail"
    template = PLAIN.get(loss.rule)
    if template is None or "{value}" in template[0]:
        explain = RULE_EXPLAIN.get(loss.rule, loss.title).replace(" (1 = yes)", "")
        return explain[:1].upper() + explain[1:]
    return loss.title


def people_number(value: float | None) -> str:
    """`21.28` -> `21.3`, `3.0` -> `3`, None -> `?`."""
    if value is None:
        return "?"
    return f"{round(value, 1):g}"


def evidence_place(deduction: Deduction) -> str:
    """`file:line` (or `file`) of the first piece of evidence that has one."""
    for finding in deduction.evidence:
        if finding.file and not finding.file.startswith("test_"):
            return f"{finding.file}:{finding.line}" if finding.line is not None else finding.file
    return ""


def one_line(text: str, limit: int = 240) -> str:
    """`text` on one line, at most `limit` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def behaviour_words(test_name: str) -> str:
    """`test_create_returns_201_with_note[x]` -> `create returns 201 with note`."""
    return test_name.split("[", 1)[0].removeprefix("test_").replace("_", " ")


def _suite_loss(check: CheckResult, factor: float) -> Loss | None:
    """The failed tests of one category of the suite, as one loss listing each failed behaviour."""
    costs: dict[str, float] = {}
    for deduction in check.deductions:
        costs[deduction.rule] = costs.get(deduction.rule, 0.0) + deduction.points
    failed: dict[str, list[TestCase]] = {}
    for test in check.tests:
        if test.failed:
            failed.setdefault(test.name.split("[", 1)[0], []).append(test)
    if not failed:
        return None
    behaviours = tuple(
        Behaviour(name=name, text=behaviour_words(name), message=_failure_line(tests[0]),
                  points=round(sum(costs.get(t.name, 0.0) for t in tests) * factor, 2))
        for name, tests in failed.items())
    behaviours = tuple(sorted(behaviours, key=lambda b: (-b.points, b.name)))
    run = len({t.name.split("[", 1)[0] for t in check.tests if t.ran})
    named = "; ".join(b.text for b in behaviours[:MAX_NAMED])
    more = f"; and {len(behaviours) - MAX_NAMED} more" if len(behaviours) > MAX_NAMED else ""
    title = f"{len(failed)} of {run} {category_title(check.category)} behaviours fail: {named}{more}"
    points = round(sum(costs.values()) * factor, 2)
    return Loss(category=check.category, rule=SUITE_RULE + check.category, points=points, title=title,
                summary=f"{len(failed)} of {run} {category_title(check.category)} behaviours fail",
                advice=SUITE_ADVICE, detail=check.summary, deductions=tuple(check.deductions),
                behaviours=behaviours)


def _failure_line(test: TestCase) -> str:
    first = (test.message or test.outcome).strip().splitlines()[0] if (test.message or "").strip() else test.outcome
    return one_line(first.removeprefix("AssertionError: "), 160)


def _app_loss(categories: Sequence[CategoryScore], problem: str) -> Loss:
    """The app never became ready: what the categories its tests measure weigh, as one loss."""
    counted = sum(c.weight for c in categories if c.weight > 0 and (c.evaluated or c.counts_as_zero))
    zeroed = [c for c in categories if c.counts_as_zero and c.weight > 0]
    points = 100 * sum(c.weight for c in zeroed) / counted if counted else 0.0
    titles = ", ".join(category_title(c.id) for c in zeroed)
    return Loss(category=zeroed[0].id if zeroed else "", rule=APP_RULE, points=round(points, 2),
                title=f"{not_ready_sentence(problem)}, so no test could run",
                advice="make the app start from a clean checkout and answer its health path",
                detail=f"counted as 0: {titles}" if titles else "")

