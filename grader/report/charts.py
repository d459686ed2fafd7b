"""The SVG charts' geometry: a bar per category (every track the same 0-100 scale, filled as far as its
score, the weight written beside it) and the cohort's score histogram, each bar stacked by the band each
score falls in, with the band thresholds.

Colour is never the only signal: every band also has a pattern (`BAND_PATTERNS`, defined once per page
in `_patterns.html`) and a label in the legend, and every bar carries its number as text.
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
    pattern: str = "band-none"  # id of the SVG pattern of its score's band


@dataclass(frozen=True)
class Chart:
    """Geometry of the category chart: every track is the 0-100 scale, filled as far as the score."""

    width: int
    height: int
    label_width: int
    bars: list[ChartBar]


CHART_WIDTH = 900
CHART_LABEL = 200
CHART_TRACK = 560
CHART_ROW = 40


def category_chart(categories: Sequence[CategoryScore]) -> Chart:
    """A bar per category on one scale (score out of 100); the weight is written beside, not drawn, so a
    light category's full marks never read as a low score."""
    bars = []
    for index, category in enumerate(categories):
        track = float(CHART_TRACK)
        fill = track * (category.score or 0) / 100 if category.evaluated else 0.0
        counted = category.evaluated or category.counts_as_zero
        bars.append(ChartBar(
            title=category_title(category.id), weight=category.weight, score=category.score if counted
            else None, y=12 + index * CHART_ROW, track=round(track, 1), fill=round(fill, 1),
            color=bar_color(category.score if counted else None), counts_as_zero=category.counts_as_zero,
            pattern=BAND_PATTERNS[bar_band(category.score if counted else None)],
        ))
    return Chart(CHART_WIDTH, 24 + len(bars) * CHART_ROW, CHART_LABEL, bars)


@dataclass(frozen=True)
class ProfileBar:
    """One category's column of a candidate's profile, in SVG user units; `fill` is 0 when not scored."""

    title: str
    score: float | None  # None: not evaluated
    x: float
    y: float  # top of the filled part
    fill: float
    pattern: str
    counts_as_zero: bool = False


@dataclass(frozen=True)
class Profile:
    """A candidate's categories as a small bar chart: one column per category of the cohort, in the heat map's
    column order, every column on the same 0-100 scale, so rows compare at a glance."""

    width: int
    height: int
    plot: int  # height of the 0-100 scale
    bars: list[ProfileBar]

    def label(self) -> str:
        """What a screen reader says, and what a reader without the colours or patterns still gets."""
        return "; ".join(f"{bar.title} {_profile_value(bar)}" for bar in self.bars)


PROFILE_BAR = 12
PROFILE_GAP = 4
PROFILE_PLOT = 36


def profile_chart(scores: dict[str, CategoryScore], category_ids: Sequence[str]) -> Profile:
    """The profile of one candidate: a column per category id (absent or not evaluated: an empty dashed track)."""
    bars = []
    for index, category_id in enumerate(category_ids):
        category = scores.get(category_id)
        counted = category is not None and (category.evaluated or category.counts_as_zero)
        score = (category.score or 0.0) if counted and category is not None else None
        fill = round(PROFILE_PLOT * (score or 0.0) / 100, 1)
        bars.append(ProfileBar(
            title=category_title(category_id), score=score, x=index * (PROFILE_BAR + PROFILE_GAP),
            y=round(PROFILE_PLOT - fill, 1), fill=fill, pattern=BAND_PATTERNS[bar_band(score)],
            counts_as_zero=category is not None and category.counts_as_zero,
        ))
    width = max(0, len(bars) * (PROFILE_BAR + PROFILE_GAP) - PROFILE_GAP)
    return Profile(width, PROFILE_PLOT + 2, PROFILE_PLOT, bars)


def _profile_value(bar: ProfileBar) -> str:
    if bar.score is None:
        return "not evaluated"
    return f"{bar.score:g}/100" + (" (counted as 0: the app did not run)" if bar.counts_as_zero else "")


BAND_COLORS = {"strong-hire": "#1e8e5a", "hire": "#4caf7d", "lean-no": "#e0a030", "no": "#d0543c",
               "did-not-run": "#7a2219", "none": "#c5cbd3"}
# The SVG pattern each band's bars are filled with (ids defined in `_patterns.html`): told apart in print
# and without colour vision. Strong hire is solid; the others hatched, dotted or cross-hatched.
BAND_PATTERNS = {key: f"band-{key}" for key in BAND_COLORS}
BAND_ORDER = ("no", "lean-no", "hire", "strong-hire")  # bottom to top in a histogram bar


def bar_band(score: float | None) -> str:
    """The band key a category's score falls in, by the default thresholds (85, 70, 50); `none` unscored."""
    if score is None:
        return "none"
    return band_for(score, Bands()).key


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
class HistogramSegment:
    """The part of a histogram bar holding the scores of one band, in SVG user units."""

    band: str  # band key
    label: str
    count: int
    y: float
    height: float
    color: str
    pattern: str  # id of the band's SVG pattern


@dataclass(frozen=True)
class HistogramBin:
    """One bar of the score histogram, in SVG user units, stacked by band (`segments`, lowest band first)."""

    low: int
    high: int
    count: int
    x: float
    y: float
    height: float
    color: str  # the colour of its highest band
    segments: tuple[HistogramSegment, ...] = ()


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
    per_bin: list[dict[str, int]] = [{} for _ in range(10)]
    labels: dict[str, str] = {}
    for score in scores:
        band = band_for(score, bands)  # the score's own band: 84.9 is "hire" though its bin reaches 90
        labels[band.key] = band.label
        counts_by_band = per_bin[min(9, int(score // 10))]
        counts_by_band[band.key] = counts_by_band.get(band.key, 0) + 1
    counts = [sum(by_band.values()) for by_band in per_bin]
    top = max(counts, default=0) or 1
    step = HIST_PLOT / 10
    bins = []
    for index, by_band in enumerate(per_bin):
        segments = _stack(by_band, labels, top)
        height = HIST_HEIGHT * counts[index] / top
        bins.append(HistogramBin(
            low=index * 10, high=index * 10 + 10, count=counts[index], x=HIST_LEFT + index * step + 2,
            y=HIST_TOP + HIST_HEIGHT - height, height=height,
            color=segments[-1].color if segments else BAND_COLORS["none"], segments=segments,
        ))
    markers = [(HIST_LEFT + HIST_PLOT * value / 100, label) for value, label in (
        (bands.lean_no, "lean no"), (bands.hire, "hire"), (bands.strong_hire, "strong hire"))]
    return Histogram(HIST_WIDTH, HIST_TOP + HIST_HEIGHT + 26, HIST_TOP + HIST_HEIGHT, bins, markers,
                     max(counts, default=0))


def _stack(by_band: dict[str, int], labels: dict[str, str], top: int) -> tuple[HistogramSegment, ...]:
    """A bar's band segments from the bottom (lowest band) up."""
    segments: list[HistogramSegment] = []
    base = float(HIST_TOP + HIST_HEIGHT)
    for key in BAND_ORDER:
        count = by_band.get(key, 0)
        if not count:
            continue
        height = HIST_HEIGHT * count / top
        base -= height
        segments.append(HistogramSegment(band=key, label=labels.get(key, key), count=count, y=round(base, 2),
                                         height=round(height, 2), color=BAND_COLORS[key],
                                         pattern=BAND_PATTERNS[key]))
    return tuple(segments)
