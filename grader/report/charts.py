"""The SVG charts' geometry: a bar per category (track as long as its weight, filled as far as its score)
and the cohort's score histogram with the band thresholds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from grader.models import (
    Bands,
    CategoryScore,
    category_title,
)
from grader.report.facts import band_for


@dataclass(frozen=True)
class ChartBar:
    """One category row of the weights chart, in SVG user units."""

    title: str
    weight: float
    score: float | None
    y: float
    track: float
    fill: float
    color: str
    counts_as_zero: bool = False  # not measured because the app never ran, counted as 0


@dataclass(frozen=True)
class Chart:
    """Geometry of the category chart: each track is as long as the weight, filled as far as the score."""

    width: int
    height: int
    label_width: int
    bars: list[ChartBar]


CHART_WIDTH = 900
CHART_LABEL = 200
CHART_TRACK = 560
CHART_ROW = 40


def category_chart(categories: Sequence[CategoryScore]) -> Chart:
    """A bar per category: track length proportional to its weight, fill to its score."""
    heaviest = max((c.weight for c in categories), default=0) or 1
    bars = []
    for index, category in enumerate(categories):
        track = CHART_TRACK * category.weight / heaviest
        fill = track * (category.score or 0) / 100 if category.evaluated else 0.0
        counted = category.evaluated or category.counts_as_zero
        bars.append(ChartBar(
            title=category_title(category.id), weight=category.weight, score=category.score if counted
            else None, y=12 + index * CHART_ROW, track=round(track, 1), fill=round(fill, 1),
            color=bar_color(category.score if counted else None), counts_as_zero=category.counts_as_zero,
        ))
    return Chart(CHART_WIDTH, 24 + len(bars) * CHART_ROW, CHART_LABEL, bars)


BAND_COLORS = {"strong-hire": "#1e8e5a", "hire": "#4caf7d", "lean-no": "#e0a030", "no": "#d0543c",
               "did-not-run": "#7a2219", "none": "#c5cbd3"}


def bar_color(score: float | None) -> str:
    """The fill of a category's bar: green to red by its score (85, 70, 50), grey when not scored."""
    if score is None:
        return "#c5cbd3"
    if score >= 85:
        return "#1e8e5a"
    if score >= 70:
        return "#4caf7d"
    if score >= 50:
        return "#e0a030"
    return "#d0543c"


@dataclass(frozen=True)
class HistogramBin:
    """One bar of the score histogram, in SVG user units."""

    low: int
    high: int
    count: int
    x: float
    y: float
    height: float
    color: str


@dataclass(frozen=True)
class Histogram:
    """Score distribution: ten 10-point bins and the band thresholds as markers."""

    width: int
    height: int
    base: float
    bins: list[HistogramBin]
    markers: list[tuple[float, str]]
    max_count: int


HIST_WIDTH = 560
HIST_PLOT = 500
HIST_LEFT = 40
HIST_HEIGHT = 150
HIST_TOP = 34  # room above the tallest bar for the threshold labels and the count


def score_histogram(scores: Sequence[float], bands: Bands) -> Histogram:
    """Counts of overall scores in 0-10, 10-20, ..., 90-100 (100 falls in the last bin)."""
    counts = [0] * 10
    for score in scores:
        counts[min(9, int(score // 10))] += 1
    top = max(counts, default=0) or 1
    step = HIST_PLOT / 10
    bins = []
    for index, count in enumerate(counts):
        height = HIST_HEIGHT * count / top
        bins.append(HistogramBin(
            low=index * 10, high=index * 10 + 10, count=count, x=HIST_LEFT + index * step + 2,
            y=HIST_TOP + HIST_HEIGHT - height, height=height,
            color=BAND_COLORS[band_for(index * 10 + 5, bands).key],
        ))
    markers = [(HIST_LEFT + HIST_PLOT * value / 100, label) for value, label in (
        (bands.lean_no, "lean no"), (bands.hire, "hire"), (bands.strong_hire, "strong hire"))]
    return Histogram(HIST_WIDTH, HIST_TOP + HIST_HEIGHT + 26, HIST_TOP + HIST_HEIGHT, bins, markers,
                     max(counts, default=0))
