"""The compare view (`grader report --compare A B [C]`): two or three candidates side by side, on the same
categories, hidden tests and losses (points of the overall 100), with the rows where they differ marked.

Reviewer only: it shows hidden-test names and several candidates at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from grader.losses import behaviour_words, rule_label
from grader.models import CATEGORY_IDS, GradeResult, category_title
from grader.report.candidate_view import result_losses
from grader.report.facts import ReportError, display_name, result_band
from grader.reviews import Adjustment, Reviewed, reviewed

MAX_COMPARED = 3
CATEGORY_GAP = 10.0  # category scores this far apart (out of 100) are a difference worth marking
MINUS = "\N{MINUS SIGN}"
LOSS_GAP = 1.0  # losses this far apart (points of 100) are a difference worth marking


@dataclass(frozen=True)
class Column:
    """One compared candidate."""

    name: str
    result: GradeResult
    band_key: str
    band_label: str
    reviewed: Reviewed | None


@dataclass(frozen=True)
class Row:
    """One line of a comparison: a label and one cell per candidate; `differs` marks it."""

    label: str
    cells: tuple[str, ...]
    differs: bool
    best: tuple[bool, ...] = ()  # per cell: the best value of the row (categories only)
    detail: str = ""


def compare_context(results: Sequence[GradeResult], adjustments: Sequence[Adjustment] = ()) -> dict[str, Any]:
    """Everything `compare.html` needs for 2-3 graded results."""
    if not 2 <= len(results) <= MAX_COMPARED:
        raise ReportError(f"--compare takes 2 or 3 results, not {len(results)}")
    ungraded = [display_name(r) for r in results if r.status != "graded"]
    if ungraded:
        raise ReportError(f"{', '.join(ungraded)} was not graded: only graded results can be compared")
    columns = [Column(display_name(r), r, result_band(r).key, result_band(r).label, reviewed(r, adjustments))
               for r in results]
    return {
        "columns": columns,
        "chart": compare_chart(results),
        "overall": overall_row(results),
        "categories": category_rows(results),
        "tests": test_rows(results),
        "losses": loss_rows(results),
        "differences": sum(row.differs for row in [*category_rows(results), *test_rows(results),
                                                    *loss_rows(results)]),
    }


# Each compared candidate's bars: a colour and a pattern of its own, so they are told apart without colour.
SERIES = (("#2f5fa8", "series-solid"), ("#c0742a", "series-hatch"), ("#6b4fa0", "series-dots"))
CHART_LABEL = 190
CHART_TRACK = 520
BAR = 12
GROUP_GAP = 14


@dataclass(frozen=True)
class ChartBar:
    """One candidate's bar in one category's group, in SVG user units."""

    y: float
    width: float
    color: str
    pattern: str
    text: str  # `name: 70/100`, written at the bar's end


@dataclass(frozen=True)
class ChartGroup:
    """One category's bars, one per candidate."""

    title: str
    y: float
    bars: tuple[ChartBar, ...]


@dataclass(frozen=True)
class CompareChart:
    """Grouped bars: every category, each candidate's score out of 100 on one scale."""

    width: int
    height: int
    label_width: int
    track: int
    groups: tuple[ChartGroup, ...]
    legend: tuple[tuple[str, str, str], ...]  # (name, colour, pattern)


def compare_chart(results: Sequence[GradeResult]) -> CompareChart:
    """A group of bars per scorecard category, a bar per candidate (not evaluated: no bar, `n/a`)."""
    groups = []
    y = 8.0
    names = [display_name(r) for r in results]
    for category in CATEGORY_IDS:
        bars = []
        for index, result in enumerate(results):
            score = next((c for c in result.categories if c.id == category), None)
            value = score.score if score is not None and (score.evaluated or score.counts_as_zero) else None
            color, pattern = SERIES[index % len(SERIES)]
            bars.append(ChartBar(y=y + index * (BAR + 3), width=round(CHART_TRACK * (value or 0) / 100, 1),
                                 color=color, pattern=pattern, text=f"{names[index]}: {_num(value)}"))
        groups.append(ChartGroup(category_title(category), y, tuple(bars)))
        y += len(results) * (BAR + 3) + GROUP_GAP
    legend = tuple((name, *SERIES[index % len(SERIES)]) for index, name in enumerate(names))
    return CompareChart(CHART_LABEL + CHART_TRACK + 190, int(y), CHART_LABEL, CHART_TRACK, tuple(groups), legend)


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{round(value, 2):g}"


def overall_row(results: Sequence[GradeResult]) -> Row:
    """The overall scores, the best one marked."""
    values = [r.overall for r in results]
    return Row("Overall", tuple(_num(v) for v in values), _apart(values, CATEGORY_GAP), _best(values))


def category_rows(results: Sequence[GradeResult]) -> list[Row]:
    """One row per scorecard category: each candidate's score out of 100 (the weight in `detail`)."""
    rows = []
    for category in CATEGORY_IDS:
        scores = [next((c for c in r.categories if c.id == category), None) for r in results]
        if not any(scores):
            continue
        values = [s.score if s is not None and (s.evaluated or s.counts_as_zero) else None for s in scores]
        weight = next((s.weight for s in scores if s is not None), 0)
        rows.append(Row(category_title(category), tuple(_num(v) for v in values), _apart(values, CATEGORY_GAP),
                        _best(values), detail=f"weight {weight:g}%"))
    return rows


def test_rows(results: Sequence[GradeResult]) -> list[Row]:
    """One row per hidden test any of them ran: passed, failed or not run; rows that differ first."""
    outcomes: dict[str, list[str]] = {}
    categories: dict[str, str] = {}
    for index, result in enumerate(results):
        for test in result.suite_tests():
            cells = outcomes.setdefault(test.name, ["not run"] * len(results))
            cells[index] = "failed" if test.failed else test.outcome
            categories.setdefault(test.name, test.category)
    rows = [Row(behaviour_words(name), tuple(cells), len(set(cells)) > 1,
                detail=f"{category_title(categories[name])} · {name}") for name, cells in outcomes.items()]
    return sorted(rows, key=lambda row: (not row.differs, row.detail))


def loss_rows(results: Sequence[GradeResult]) -> list[Row]:
    """One row per cause of lost points any of them has, in points of the overall 100; largest first."""
    points: dict[str, list[float]] = {}
    titles: dict[str, str] = {}
    for index, result in enumerate(results):
        for loss in result_losses(result):
            key = loss.rule
            points.setdefault(key, [0.0] * len(results))[index] += loss.points
            titles.setdefault(key, rule_label(loss))
    rows = [Row(titles[key], tuple("—" if v == 0 else f"{MINUS}{round(v, 2):g}" for v in values),
                max(values) - min(values) >= LOSS_GAP, detail=key) for key, values in points.items()]
    return sorted(rows, key=lambda row: -max(_lost(cell) for cell in row.cells))


def _lost(cell: str) -> float:
    return 0.0 if cell == "—" else float(cell.removeprefix(MINUS))


def _apart(values: Sequence[float | None], gap: float) -> bool:
    known = [v for v in values if v is not None]
    return len(known) != len(values) or (bool(known) and max(known) - min(known) >= gap)


def _best(values: Sequence[float | None]) -> tuple[bool, ...]:
    known = [v for v in values if v is not None]
    top = max(known) if known else None
    return tuple(v is not None and v == top and len(known) > 1 for v in values)


def render_compare_html(results: Sequence[GradeResult], adjustments: Sequence[Adjustment] = ()) -> str:
    """The compare page: one self-contained HTML page (no script, no fetches)."""
    from grader.report.render import environment

    return environment().get_template("compare.html").render(compare_context(results, adjustments))
