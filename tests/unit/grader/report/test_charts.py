"""The charts read right: histogram bars by the band of each score, scorecard bars on one scale, and never
colour alone (a pattern and a label for every band)."""

from __future__ import annotations

from grader import report
from grader.models import Bands, CategoryScore
from grader.report.charts import BAND_PATTERNS, category_chart, score_histogram
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
