"""Review notes for the interviewer: strengths, concerns and follow-up questions, built by templates.

Deterministic by design (no model, no randomness): the same result always gives the same notes. Concerns
and questions come from the largest losses in points of the overall score (`grader.losses`), so they point
at where the points were lost. The text reads as a reviewer would write it: what is wrong, where, and what
it cost; a rule's formula ("full points at ...") never appears here (reports keep it in a details row).
"""

from __future__ import annotations

from collections.abc import Sequence

from grader.app_log import not_ready_sentence
from grader.losses import Loss, people_number, rank_losses
from grader.models import HIDDEN_SUITE, CategoryScore, CheckResult, Deduction, ReviewNotes, category_title

MAX_CONCERNS = 5
MIN_QUESTIONS = 3
MAX_QUESTIONS = 5
STRONG_CATEGORY = 85.0
WEAK_CATEGORY = 60.0

# Keyed by scoring rule id; hidden-test deductions use "hidden:<category>". `{value}` is the metric,
# `{evidence}` the first piece of evidence (file:line or test name).
QUESTIONS: dict[str, str] = {
    "typecheck.errors_per_100_lines": "mypy --strict reports {value} errors per 100 lines (e.g. {evidence}). "
    "Which of these would you fix first, and how do types help you in a codebase like this?",
    "typecheck.annotation_share": "Only {value}% of functions and parameters carry type hints. Where do hints pay "
    "off for you, and how would you introduce them here?",
    "lint.python_fundamentals_per_kloc": "The linter flags {evidence}. What can go wrong with that pattern, and "
    "how would you write it instead?",
    "lint.files_not_parsed": "{evidence}: this file does not parse. How did it reach the submission, and what "
    "would have caught it before?",
    "complexity.functions_over_10": "{evidence}. How would you split it up, and how would you test the pieces?",
    "complexity.average_cc": "Functions average a cyclomatic complexity of {value}. How do you decide when a "
    "function should be broken up?",
    "practices.idiom_share": "Where would a context manager, a generator or a decorator simplify this code?",
    "practices.blocking_calls_in_async": "{evidence}. What does this do to the event loop under load, and how "
    "would you fix it?",
    "practices.has_migrations": "How would you evolve this schema in production without migrations? Which tool "
    "would you add, and how would you deploy a breaking change?",
    "candidate_tests.tests_found": "The submission has {value} tests of its own. Which behaviours would you test "
    "first, and at which level (unit or HTTP)?",
    "candidate_tests.pass_rate": "Some of your own tests fail ({evidence}). What happened, and how do you keep the "
    "suite green?",
    "candidate_tests.coverage_percent": "Your tests cover {value}% of the code. Which untested parts worry you "
    "most, and why is 100% not the goal?",
    "candidate_tests.http_tests": "How would you write integration tests that drive the API over HTTP, and what "
    "would they catch that unit tests miss?",
    "candidate_tests.mocks_used": "How do you isolate external services (payment, email, another API) in tests?",
    "practices.has_ci_config": "How would you set up CI so every push runs the tests and the linters?",
    "practices.has_dockerfile": "How would you containerize this service for production, and what would the image "
    "contain?",
    "practices.dockerfile_issues": "The Dockerfile has issues ({evidence}). How would you harden and slim it?",
    "practices.pinned_share": "Dependencies are not pinned. How do you make builds reproducible?",
    "practices.has_env_example": "How does someone new learn which environment variables this service needs?",
    "practices.committed_env_file": "A .env file is committed. What belongs in it, and what should never reach git?",
    "practices.secrets_found": "A secret appears to be committed ({evidence}). How should secrets reach the service, "
    "and what would you do now that it is in the git history?",
    "practices.has_readme_run_instructions": "How would a colleague run this service locally from your README?",
    "lint.infrastructure_findings": "{evidence}. What is the security risk, and how would you fix it?",
    "lint.observability_findings": "The code prints instead of logging ({evidence}). How would you make this "
    "service's output useful in production?",
    "practices.logging_configured": "How would you set up structured logging with a request id per request?",
    "hidden:api_design": "A hidden API test failed: {evidence}. Walk me through the status codes and error bodies "
    "your API returns, and why.",
    "hidden:databases": "A hidden data test failed: {evidence}. How do you make sure writes are consistent, "
    "including under concurrent requests?",
    "hidden:observability": "A hidden observability test failed: {evidence}. How would an operator know this service "
    "is healthy and ready?",
    "hidden:infrastructure": "A hidden infrastructure test failed: {evidence}. How is the service configured in "
    "each environment?",
    "hidden:python_fundamentals": "A hidden test failed: {evidence}. How would you debug it?",
    "hidden:testing": "A hidden test failed: {evidence}. Which test of yours should have caught it?",
}

GENERAL_QUESTIONS = (
    "Which part of this submission are you least happy with, and what would you change with another day?",
    "How would this service behave with ten times the traffic, and what would break first?",
    "Which trade-off between frameworks or libraries did you weigh for this task?",
)


def build_review(
    checks: Sequence[CheckResult], categories: Sequence[CategoryScore], app_problem: str | None = None,
) -> ReviewNotes:
    """Strengths, concerns and 3-5 follow-up questions from the scored checks.

    `app_problem`: why the app never became ready (None when it ran); it leads the concerns and questions.
    """
    losses = [loss for loss in rank_losses(checks, categories, app_problem) if loss.deductions]
    concerns = [concern_text(loss) for loss in losses[:MAX_CONCERNS]]
    questions = _questions([_primary(loss) for loss in losses])
    if app_problem is not None:
        concerns = [f"{not_ready_sentence(app_problem)}; the categories its tests measure count as 0.",
                    *concerns][:MAX_CONCERNS]
        questions = [NOT_READY_QUESTION.format(problem=app_problem), *questions][:MAX_QUESTIONS]
    return ReviewNotes(strengths=_strengths(checks, categories), concerns=concerns, questions=questions)


NOT_READY_QUESTION = ("The app never became ready in the grader ({problem}). How do you make sure a service starts "
                      "from a clean checkout before you hand it in?")


def concern_text(loss: Loss) -> str:
    """`A secret is committed to the repository (main.py:8): \N{MINUS SIGN}6 of 100.`"""
    where = f" ({loss.where})" if loss.where else ""
    return f"{loss.title}{where}: \N{MINUS SIGN}{loss.points:g} of 100."


def _primary(loss: Loss) -> Deduction:
    """The deduction a loss stands for: its rule's own (a gate before what it took away), or its first test."""
    return loss.deductions[0]


# Check id (or its tool) -> what a check that earned all its points says about the submission.
STRENGTHS: dict[str, str] = {
    "complexity": "Small, readable functions: complexity is low throughout",
    "typecheck": "Fully typed: mypy --strict finds nothing to fix",
    "lint/python_fundamentals": "Clean Python: no bare excepts, mutable defaults or unused names",
    "lint/infrastructure": "No security issues found in the code (hard-coded passwords, shell=True, SQL from strings)",
    "lint/observability": "Logs through the logging module rather than print()",
    "candidate_tests": "Its own tests pass and cover the code well",
    "practices": "Follows the repository practices the assignment asks for",
}


def _strengths(checks: Sequence[CheckResult], categories: Sequence[CategoryScore]) -> list[str]:
    strong = [f"{category_title(c.id)} {c.score:g}/100" for c in categories
              if c.evaluated and c.score is not None and c.score >= STRONG_CATEGORY]
    strengths = [f"Strong in {', '.join(strong)}"] if strong else []
    strengths += [
        text for text in dict.fromkeys(_strength(check) for check in checks
                                       if check.status == "passed" and check.max_score > 0
                                       and check.suite != HIDDEN_SUITE)
        if text
    ][:3]
    return strengths


def _strength(check: CheckResult) -> str:
    return STRENGTHS.get(check.id) or STRENGTHS.get(check.id.split("/", 1)[0]) or check.summary


def _questions(deductions: Sequence[Deduction]) -> list[str]:
    questions: list[str] = []
    used: set[str] = set()
    for deduction in deductions:
        key = deduction.rule if deduction.metric else f"hidden:{deduction.category}"
        template = QUESTIONS.get(key)
        if template is None or key in used:
            continue
        used.add(key)
        value = "" if deduction.value is None else people_number(deduction.value)
        questions.append(template.format(value=value, evidence=_evidence(deduction) or "see the report"))
        if len(questions) == MAX_QUESTIONS:
            return questions
    for general in GENERAL_QUESTIONS:
        if len(questions) >= MIN_QUESTIONS:
            break
        questions.append(general)
    return questions


def _evidence(deduction: Deduction) -> str:
    if not deduction.evidence:
        return "" if deduction.metric else deduction.rule
    finding = deduction.evidence[0]
    place = f"{finding.file}:{finding.line}" if finding.file and finding.line else (finding.file or "")
    if not deduction.metric:  # a hidden test: its name says more than the test file
        return deduction.rule
    return f"{finding.message} at {place}" if place else finding.message
