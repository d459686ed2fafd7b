"""The charts read right: histogram bars by the band of each score, scorecard bars on one scale, and never
colour alone (a pattern and a label for every band)."""

from __future__ import annotations

from grader import report
from grader.models import Bands, CategoryScore
from grader.report.charts import BAND_PATTERNS, category_chart, profile_chart, score_histogram
from tests.factories import graded_result


def test_a_score_is_drawn_in_its_own_band_not_its_bins() -> None:
    histogram = score_histogram([84.9, 86.0, 86.5, 12.0], Bands())
    eighties = histogram.bins[8]
    assert [(seg.band, seg.count) for seg in eighties.segments] == [("hire", 1), ("strong-hire", 2)]
    assert eighties.segments[0].y > eighties.segments[1].y  # the lower band at the bottom of the bar
    assert sum(seg.height for seg in eighties.segments) == eighties.height
    assert [(seg.band, seg.pattern) for seg in histogram.bins[1].segments] == [("no", BAND_PATTERNS["no"])]


def test_scorecard_bars_share_one_scale_whatever_the_weight() -> None:
    categories = [CategoryScore(id="api_design", weight=20, score=50, evaluated=True),
                  CategoryScore(id="observability", weight=10, score=100, evaluated=True)]
    api, observability = category_chart(categories).bars
    assert api.track == observability.track
    assert observability.fill == 2 * api.fill  # full marks in a light category read as full marks
    assert (api.pattern, observability.pattern) == ("band-lean-no", "band-strong-hire")  # 50 is lean no


def test_every_band_has_a_pattern_and_a_label_on_the_cohort_page() -> None:
    results = [graded_result("alice"), graded_result("bob")]
    html = report.render_cohort_html(results)
    for key, label in (("strong-hire", "strong hire"), ("hire", "hire"), ("lean-no", "lean no"), ("no", "no")):
        assert f'<pattern id="band-{key}"' in html and f"url(#band-{key})\"" in html and label in html
    assert 'class="hist-seg" data-band="hire"' in html  # alice and bob score 75.5
    page = report.render_candidate_html(results[0])
    assert "weight 20% of the overall" in page and "fill=\"url(#band-" in page


def test_a_profile_draws_each_category_on_one_scale_in_the_heat_maps_order() -> None:
    scores = {"api_design": CategoryScore(id="api_design", weight=20, score=50, evaluated=True),
              "testing": CategoryScore(id="testing", weight=10, score=100, evaluated=True),
              "databases": CategoryScore(id="databases", weight=20, score=0, evaluated=False, counts_as_zero=True),
              "observability": CategoryScore(id="observability", weight=10, score=None, evaluated=False)}
    profile = profile_chart(scores, ["testing", "api_design", "databases", "observability", "infrastructure"])
    testing, api, databases, observability, infrastructure = profile.bars
    assert [bar.title for bar in profile.bars] == ["Testing", "API design", "Databases", "Observability",
                                                   "Infrastructure"]
    assert testing.fill == profile.plot and api.fill == profile.plot / 2  # the weight never scales a bar
    assert testing.y == 0 and api.y == profile.plot / 2  # bottoms aligned
    assert (testing.pattern, api.pattern) == ("band-strong-hire", "band-lean-no")
    assert databases.score == 0 and databases.fill == 0 and databases.counts_as_zero
    assert observability.score is None and infrastructure.score is None and observability.fill == 0
    assert [bar.x for bar in profile.bars] == sorted({bar.x for bar in profile.bars})  # side by side
    assert profile.label() == ("Testing 100/100; API design 50/100; Databases 0/100 (counted as 0: the app did "
                               "not run); Observability not evaluated; Infrastructure not evaluated")


def test_the_cohort_page_has_a_profile_per_graded_candidate() -> None:
    """Issue 21: a chart per candidate in the cohort view comparing categories, readable without colour."""
    results = [graded_result("alice"), graded_result("bob")]
    html = report.render_cohort_html(results)
    for name in ("alice", "bob"):
        start = html.index(f'<svg class="profile" data-name="{name}"')
        svg = html[start:html.index("</svg>", start)]
        assert svg.count('class="profile-bar"') == 6  # one per category column of the heat map
        assert "API design 50/100" in svg and "Infrastructure not evaluated" in svg  # aria-label: the numbers
        assert 'fill="url(#band-' in svg and "<title>API design: 50 / 100</title>" in svg
    assert html.index('data-name="alice"') < html.index('<svg class="profile" data-name="alice"')
