"""Reviewer overrides: `grader review` appends to OUT/reviews.toml, reports show the machine's score, the
adjusted one and each adjustment with who, when and why; result.json is never rewritten; an adjustment made
on other content is flagged and not applied."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader import report
from grader.results import write_result
from grader.reviews import Adjustment, ReviewFileError, append_review, load_reviews, reviewed
from tests.unit.grader.test_check_command import grader
from tests.unit.grader.test_losses import golden_result

HOSTILE_REASON = 'API design better than the tests say <script>alert(1)</script> "quoted" \\ back\x7f'


def graded_out(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    write_result(golden_result("fastapi-flawed"), out / "fastapi-flawed")
    return out


def test_grader_review_appends_and_rerenders_without_touching_the_result(tmp_path: Path) -> None:
    out = graded_out(tmp_path)
    result_file = out / "fastapi-flawed" / "result.json"
    before = result_file.read_bytes()
    for adjust, reason, by in (("+10", HOSTILE_REASON, "Dana"), ("-5", "Validation is thin", "Lee")):
        proc = grader("review", "fastapi-flawed", "--category", "api_design", "--adjust", adjust, "--reason",
                      reason, "--by", by, "--out", str(out))
        assert proc.returncode == 0, proc.stderr
    assert result_file.read_bytes() == before  # the machine's judgement stays as graded
    adjustments = load_reviews(out)
    assert [(a.adjust, a.by, a.reason) for a in adjustments] == [(10, "Dana", HOSTILE_REASON),
                                                                  (-5, "Lee", "Validation is thin")]
    assert adjustments[0].content_hash == "0" * 64 and adjustments[0].at.endswith("+00:00")
    page = (out / "fastapi-flawed" / "report.html").read_text()
    section = page[page.index('id="reviewer-adjustments"'):]
    # api_design 70 -> 75, weight 20 of 100: the overall moves by 1 point, from 57.2 to 58.2
    assert "machine score 57.2" in page and "adjusted 58.2" in page
    assert "Dana" in section and "Lee" in section and "Validation is thin" in section
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in section


def test_an_adjustment_made_on_other_content_is_flagged_and_not_applied(tmp_path: Path) -> None:
    result = golden_result("fastapi-flawed")
    old = Adjustment(submission="fastapi-flawed", content_hash="f" * 64, category="testing", adjust=20,
                     reason="Tests were in a branch", by="Dana", at="2026-12-01T10:00:00+00:00")
    view = reviewed(result, [old])
    assert view is not None and view.adjusted == view.machine == 57.2 and view.flagged
    page = report.render_candidate_html(result, "reviewer", [old])
    assert "not applied: made on an earlier version of the submission (ffffffffffff)" in page
    assert 'id="reviewer-adjustments"' not in report.render_candidate_html(result, "candidate", [old])


def test_a_bad_review_is_refused_in_one_sentence(tmp_path: Path) -> None:
    out = graded_out(tmp_path)
    proc = grader("review", "nobody", "--category", "api_design", "--adjust", "5", "--reason", "x", "--by", "Dana",
                  "--out", str(out))
    assert proc.returncode == 2 and "no result for 'nobody'" in proc.stderr
    proc = grader("review", "fastapi-flawed", "--category", "api_design", "--adjust", "5", "--reason", " ",
                  "--by", "Dana", "--out", str(out))
    assert proc.returncode == 2 and "blank" in proc.stderr and not (out / "reviews.toml").exists()
    (out / "reviews.toml").write_text("[[review]]\nsubmission = 3\n")
    with pytest.raises(ReviewFileError, match="cannot be read"):
        load_reviews(out)


def test_the_file_reads_back_what_was_appended(tmp_path: Path) -> None:
    adjustment = Adjustment(submission="a\nb", content_hash="1" * 64, category="databases", adjust=-2.5,
                            reason=HOSTILE_REASON, by="Ünal", at="2026-12-06T15:00:00+00:00")
    append_review(tmp_path, adjustment)
    append_review(tmp_path, adjustment)
    assert load_reviews(tmp_path) == [adjustment, adjustment]


def test_grader_report_shows_the_reviews_beside_the_results(tmp_path: Path) -> None:
    out = graded_out(tmp_path)
    proc = grader("review", "fastapi-flawed", "--category", "testing", "--adjust", "+20", "--reason",
                  "Tests live in a separate repository", "--by", "Dana", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    rendered = tmp_path / "rendered"
    proc = grader("report", str(out), "--out", str(rendered), "--format", "html")
    assert proc.returncode == 0, proc.stderr
    page = (rendered / "fastapi-flawed" / "report.html").read_text()
    # testing 0 -> 20, weight 15 of 100: 3 points more overall
    assert "machine score 57.2" in page and "adjusted 60.2" in page and "Tests live in a separate" in page
