"""Where the points went, in points of the overall 100: the ranking every report and `grader check` lead with.

The results are real: tests/golden/hello-api holds what grading each bundled solution in Docker gives
(tests/docker/test_golden.py keeps them true), so the ranking is tested on fastapi-flawed's own result.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from grader import report
from grader.candidate_check import render_check, top_fixes
from grader.losses import behaviour_words, plain_text, rank_losses
from grader.models import CheckRun, Deduction, Finding, GradeResult
from grader.review import build_review
from grader.rules import DEFAULT_RULES, Rule
from grader.scoring import UNPARSED_RULE, score_check_runs
from tests.conftest import REPO_ROOT

GOLDEN = REPO_ROOT / "tests" / "golden" / "hello-api"
SOLUTIONS = sorted(path.stem for path in GOLDEN.glob("*.json"))
FORMULA = ("(1 = yes)", "full points at", "none at", "points from", "rule(s)")


def assert_no_rule_formula(results: dict[str, dict[str, Any]]) -> None:
    """No review text (strengths, concerns, questions) of any of `results` (result.json as read, by name)
    carries a scoring rule's formula."""
    for name, result in results.items():
        review = result.get("review") or {}
        for text in [*review.get("strengths", []), *review.get("concerns", []), *review.get("questions", [])]:
            assert not any(formula in text for formula in FORMULA), (name, text)


def golden_result(name: str) -> GradeResult:
    """A golden result made whole again (the golden files drop what varies between runs)."""
    raw = json.loads((GOLDEN / f"{name}.json").read_text())
    raw.update(grader_version="0.0.0", graded_at="2026-12-01T00:00:00+00:00")
    raw["submission"].update(source=name, content_hash="0" * 64)
    return GradeResult.model_validate(raw)


# fastapi-flawed's real flaws, largest first: no tests of its own (every testing rule needs one to run),
# three API behaviours and one data behaviour that fail, a committed secret, mypy errors, a bare except.
FLAWED_TOP = [
    ("testing", "No tests of its own", 15.0),
    ("api_design", "3 of 10 API design behaviours fail", 6.0),
    ("infrastructure", "A secret is committed to the repository", 6.0),
    ("python_fundamentals", "mypy --strict finds 21.3 type errors per 100 lines", 4.65),
    ("python_fundamentals", "Error-prone Python", 3.49),
    ("databases", "1 of 6 Databases behaviours fail", 3.33),
]


def test_fastapi_flawed_losses_are_ranked_in_points_of_the_overall_score() -> None:
    result = golden_result("fastapi-flawed")
    losses = rank_losses(result.checks, result.categories)
    top = [(loss.category, loss.points) for loss in losses[:6]]
    assert top == [(category, points) for category, _, points in FLAWED_TOP]
    for loss, (_, title, _) in zip(losses, FLAWED_TOP, strict=False):
        assert loss.title.startswith(title)
    # every point lost is accounted for once: the losses add up to what the overall score misses
    assert sum(loss.points for loss in losses) == pytest.approx(100 - (result.overall or 0), abs=0.1)
    api = losses[1]
    assert [b.name for b in api.behaviours] == ["test_create_returns_201_with_note",
                                               "test_create_with_title_over_200_chars_is_rejected",
                                               "test_get_unknown_note_returns_404_with_json_error"]
    assert api.behaviours[0].message == "POST /notes answered 200, expected 201"
    # ranked by a category's own points (the reports before), no failed behaviour made the top 5
    by_check_points = sorted((d for c in result.checks for d in c.deductions), key=lambda d: -d.points)[:5]
    assert not any(d.metric is None for d in by_check_points)


def _lost_section(html: str) -> str:
    start = html.index('id="lost"')
    return html[start:html.index("</section>", start)]


def test_report_summary_and_check_lead_with_the_same_losses(tmp_path: Path) -> None:
    result = golden_result("fastapi-flawed")
    lost = _lost_section(report.render_candidate_html(result, "reviewer"))
    titles = [title for _, title, _ in FLAWED_TOP]
    positions = [lost.index(title) for title in titles]
    assert positions == sorted(positions)
    assert "\N{MINUS SIGN}15</span>" in lost and "points of the overall score" in lost
    assert "POST /notes answered 200, expected 201" in lost  # each failed behaviour, with its cost

    markdown = report.render_markdown(result)
    lines = [line for line in markdown.splitlines() if line.startswith("- \N{MINUS SIGN}")]
    assert [line.split(" · ")[2][:18] for line in lines] == [title[:18] for title in titles]
    assert lines[0].startswith("- \N{MINUS SIGN}15 · Testing")

    console = Console(record=True, width=200, color_system=None)
    render_check(result, tmp_path / "result.json", console)
    fixes = [line.strip() for line in console.export_text().splitlines() if re.match(r"\s+\d\. \+", line)]
    assert [fix.split(" ", 2)[1] for fix in fixes] == ["+15.0", "+6.0", "+6.0", "+4.7", "+3.5"]
    assert [loss.title for loss in top_fixes(result)] == [
        loss.title for loss in rank_losses(result.checks, result.categories)[:5]]


def test_an_app_that_did_not_start_is_one_fix_not_one_per_failed_test() -> None:
    result = golden_result("fastapi-flawed")
    categories = [c.model_copy(update={"score": 0.0, "evaluated": False, "counts_as_zero": True})
                  if c.id in ("api_design", "databases") else c for c in result.categories]
    down = result.model_copy(update={"outcome": "did_not_run", "categories": categories,
                                     "app": result.app.model_copy(update={"started": False, "problem":
                                                                          "exited with code 1"})})
    fixes = top_fixes(down)
    assert fixes[0].rule == "app-did-not-run" and fixes[0].points == 40.0
    assert not any(fix.behaviours for fix in fixes)
    console = Console(record=True, width=200, color_system=None)
    render_check(down, Path("result.json"), console)
    text = console.export_text()
    assert text.count("The app did not start") == 1 and "fix (worth +40.0 points of the overall 100)" in text
    assert "+15.0 Testing: No tests of its own" in text  # the other causes follow


def test_the_candidate_copy_of_fastapi_flawed_teaches_without_naming_a_hidden_test() -> None:
    result = golden_result("fastapi-flawed")
    html = report.render_candidate_html(result, "candidate")
    names = [test.name for check in result.checks for test in check.tests]
    messages = [test.message.splitlines()[0] for check in result.checks for test in check.tests if test.message]
    assert names and messages
    for secret in [*names, *(behaviour_words(name) for name in names), *messages, "test_hidden.py"]:
        assert secret not in html, secret
    lost = html[html.index('id="lost"'):]
    lost = lost[:lost.index("</section>")]
    assert "3 of 10 API design behaviours fail" in lost and "1 of 6 Databases behaviours fail" in lost
    findings = html[html.index('id="findings"'):]
    assert "main.py:18" in findings and "main.py:30" in findings and "What to do" in findings
    markdown = report.render_markdown(result, "candidate")
    assert "3 of 10 API design behaviours fail" in markdown and not any(name in markdown for name in names)


@pytest.mark.parametrize("name", SOLUTIONS)
def test_review_text_of_every_bundled_solution_has_no_rule_formula(name: str) -> None:
    result = golden_result(name)
    rebuilt = build_review(result.checks, result.categories, result.app.problem if result.did_not_run else None)
    assert rebuilt == result.review  # the golden file holds what grading writes
    for text in [*rebuilt.strengths, *rebuilt.concerns, *rebuilt.questions]:
        for formula in FORMULA:
            assert formula not in text, (formula, text)
    html = report.render_candidate_html(result)
    notes = html[html.index("<h2>Review notes</h2>"):]
    notes = notes[:notes.index("</section>")]
    assert not any(formula in notes for formula in FORMULA)


@pytest.mark.parametrize("rule", DEFAULT_RULES, ids=lambda rule: rule.id)
def test_every_rule_is_said_without_its_formula(rule: Rule) -> None:
    """Whatever challenge a solution belongs to, its losses come from these rules: each one's plain text
    (title and what to do) is formula-free, with or without a template of its own."""
    deduction = Deduction(rule=rule.id, category=rule.category, points=rule.points, reason=rule.explain,
                          metric=rule.metric, value=rule.bad, good=rule.good, bad=rule.bad)
    for text in plain_text(deduction):
        assert not any(formula in text for formula in FORMULA), (rule.id, text)


def test_a_rule_lost_only_to_code_that_does_not_parse_says_so_not_its_clean_metric() -> None:
    """mypy finds 0 errors in the half that parses: the points went to the syntax errors, and the title must
    not read "mypy --strict finds 0 type errors" as if that were the fault."""
    syntax_error = Finding(message="invalid syntax", file="app/broken.py", line=3, rule=UNPARSED_RULE,
                           category="python_fundamentals")
    run = CheckRun(id="typecheck", status="ok", findings=[syntax_error],
                   metrics={"errors_per_100_lines": 0, "annotation_share": 100, "parsed_share": 50})
    [result] = score_check_runs([run], DEFAULT_RULES)
    deduction = next(d for d in result.deductions if d.rule == "typecheck.errors_per_100_lines")
    title, advice = plain_text(deduction)
    assert "finds 0" not in title
    assert title == "Some Python files do not parse, so typecheck counts only the code that does"
    assert "py_compile" in advice
    # A metric that is itself at fault keeps its own words, with its number.
    run_with_errors = run.model_copy(update={"metrics": {**run.metrics, "errors_per_100_lines": 3}})
    [result] = score_check_runs([run_with_errors], DEFAULT_RULES)
    deduction = next(d for d in result.deductions if d.rule == "typecheck.errors_per_100_lines")
    assert plain_text(deduction)[0] == "mypy --strict finds 3 type errors per 100 lines"
