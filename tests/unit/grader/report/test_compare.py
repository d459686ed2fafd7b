"""`grader report --compare A B [C]`: the same categories, hidden tests and losses side by side, the rows
where the candidates differ marked. On real results: the golden Docker gradings of the hello-api solutions."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader import report
from grader.report.compare_view import compare_context
from grader.results import write_result
from tests.unit.grader.test_check_command import grader
from tests.unit.grader.test_losses import golden_result


def test_compare_marks_where_two_candidates_differ() -> None:
    flawed, reference = golden_result("fastapi-flawed"), golden_result("fastapi-ref")
    context = compare_context([flawed, reference])
    categories = {row.label: row for row in context["categories"]}
    assert categories["API design"].cells == ("70", "100") and categories["API design"].differs
    assert categories["API design"].best == (False, True)
    tests = {row.detail.split(" · ")[1]: row for row in context["tests"]}
    assert tests["test_create_returns_201_with_note"].cells == ("failed", "passed")
    assert tests["test_create_returns_201_with_note"].differs
    assert not tests["test_health_returns_ok_json"].differs
    assert context["tests"][0].differs  # the differences first
    losses = {row.label: row for row in context["losses"]}
    assert losses["Tests of the candidate's own suite that ran"].cells == ("\N{MINUS SIGN}15", "—")
    # a row names the cause, not one candidate's numbers
    assert losses["API design behaviours that fail"].cells == ("\N{MINUS SIGN}6", "—")
    assert "Mypy --strict errors per 100 lines of application code" in losses


def test_cli_writes_compare_html_and_refuses_one_result(tmp_path: Path) -> None:
    out = tmp_path / "out"
    for name in ("fastapi-flawed", "fastapi-ref", "starter"):
        write_result(golden_result(name), out / name)
    proc = grader("report", "--compare", str(out / "fastapi-flawed"), str(out / "fastapi-ref"), str(out / "starter"),
                  "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    page = (out / "compare.html").read_text()
    assert page.count('class="differs"') > 10 and "Compare 3 candidates" in page
    proc = grader("report", "--compare", str(out / "starter"), "--out", str(out))
    assert proc.returncode == 2 and "2 or 3 results" in proc.stderr
    # several candidates on one page: never a candidate copy
    proc = grader("report", "--compare", str(out / "starter"), str(out / "fastapi-ref"), "--audience", "candidate",
                  "--out", str(tmp_path / "candidate"))
    assert proc.returncode == 2 and "no candidate audience" in proc.stderr
    assert not (tmp_path / "candidate" / "compare.html").exists()


def test_compare_needs_graded_results() -> None:
    from tests.factories import error_result

    with pytest.raises(report.ReportError, match="was not graded"):
        report.render_compare_html([golden_result("fastapi-ref"), error_result("no code")])


def test_compare_chart_draws_every_category_on_one_scale_with_a_pattern_per_candidate() -> None:
    from grader.report.compare_view import compare_chart

    chart = compare_chart([golden_result("fastapi-flawed"), golden_result("fastapi-ref")])
    api = next(group for group in chart.groups if group.title == "API design")
    flawed, reference = api.bars
    assert (flawed.text, reference.text) == ("fastapi-flawed: 70", "fastapi-ref: 100")
    assert flawed.width / reference.width == pytest.approx(0.7) and flawed.pattern != reference.pattern
    assert len(chart.groups) == 6 and [name for name, _, _ in chart.legend] == ["fastapi-flawed", "fastapi-ref"]
