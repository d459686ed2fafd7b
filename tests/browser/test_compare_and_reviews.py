"""The compare view and a report with reviewer overrides, in a real Chromium, from real results (graded once per
session by tests/browser/conftest.py with the local backend). Screenshots are kept as artifacts
(`browser/` under $GRADER_TEST_ARTIFACTS, else under `test-artifacts/` in the checkout)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.results import read_result
from grader.reviews import Adjustment, append_review
from tests.unit.grader.test_check_command import grader

from .browser import Browser

pytestmark = pytest.mark.slow
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[Browser]:
    with Browser(chromium) as page:
        yield page


def copy_results(graded_dir: Path, target: Path, *names: str) -> Path:
    """The named results copied, so the session's shared results stay untouched."""
    for name in names:
        shutil.copytree(graded_dir / name, target / name)
    return target


def test_compare_view_marks_the_differences(browser: Browser, graded_dir: Path, artifacts: Path,
                                            tmp_path: Path) -> None:
    out = copy_results(graded_dir, tmp_path / "out", "fastapi-flawed", "fastapi-ref")
    proc = grader("report", "--compare", str(out / "fastapi-flawed"), str(out / "fastapi-ref"), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    page = out / "compare.html"
    browser.open(page)
    assert browser.errors() == [] and browser.requests() == [page.resolve().as_uri()]
    headers = browser.evaluate("[...document.querySelectorAll('#compare-categories thead th')].map(h => h.textContent)")
    assert headers == ["Category", "fastapi-flawed", "fastapi-ref"]
    differing = browser.evaluate("[...document.querySelectorAll('#compare-tests tr.differs td:first-child')]"
                                 ".map(td => td.textContent)")
    assert any("create returns 201 with note" in text for text in differing)
    assert any("list is ordered by id ascending" in text for text in differing)
    # the marking is drawn, not only in the markup: a background and a ≠ a reader sees
    background = browser.evaluate("getComputedStyle(document.querySelector('#compare-tests tr.differs td'))"
                                  ".backgroundColor")
    assert background not in ("rgba(0, 0, 0, 0)", "transparent")
    assert "≠" in browser.evaluate("document.querySelector('#compare-categories tr.differs').innerText")
    shot = browser.screenshot(artifacts / "compare-fastapi-flawed-vs-ref.png")
    assert shot.read_bytes().startswith(PNG_MAGIC) and shot.stat().st_size > 20_000


def test_report_with_reviewer_overrides(browser: Browser, graded_dir: Path, artifacts: Path, tmp_path: Path) -> None:
    out = copy_results(graded_dir, tmp_path / "out", "fastapi-flawed")
    result_file = out / "fastapi-flawed" / "result.json"
    before = result_file.read_bytes()
    machine = read_result(result_file).overall
    assert machine is not None
    # made on an earlier version of the submission: shown flagged, not applied
    append_review(out, Adjustment(submission="fastapi-flawed", content_hash="e" * 64, category="testing", adjust=30,
                                  reason="Tests were in another branch", by="Lee", at="2026-12-01T09:30:00+00:00"))
    proc = grader("review", "fastapi-flawed", "--category", "api_design", "--adjust", "+10", "--reason",
                  "Status codes were discussed and fixed in the interview", "--by", "Dana", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert result_file.read_bytes() == before
    page = out / "fastapi-flawed" / "report.html"
    browser.open(page)
    assert browser.errors() == [] and browser.requests() == [page.resolve().as_uri()]
    adjusted = browser.evaluate("document.getElementById('adjusted-score').innerText")
    assert f"machine score {machine:g}" in adjusted and f"adjusted {round(machine + 2, 1):g}" in adjusted
    rows = browser.evaluate("[...document.querySelectorAll('#reviewer-adjustments tbody tr')]"
                            ".map(r => [r.className, r.innerText])")
    assert len(rows) == 2
    assert rows[0][0] == "flagged" and "not applied" in rows[0][1] and "Lee" in rows[0][1]
    assert "Dana" in rows[1][1] and "+10" in rows[1][1] and "applied" in rows[1][1]
    shot = browser.screenshot(artifacts / "report-with-reviewer-overrides.png")
    assert shot.read_bytes().startswith(PNG_MAGIC) and shot.stat().st_size > 20_000


def test_the_leaderboard_links_to_its_top_candidates_side_by_side(browser: Browser, graded_dir: Path,
                                                                   artifacts: Path) -> None:
    browser.open(graded_dir / "index.html")
    href = browser.evaluate("document.getElementById('compare-top').getAttribute('href')")
    leaders = browser.evaluate("[...document.querySelectorAll('#leaderboard tbody tr')].slice(0, 3)"
                               ".filter(r => r.cells[2].dataset.value !== '').map(r => r.dataset.name)")
    page = graded_dir / href
    browser.open(page)
    assert browser.errors() == []
    headers = browser.evaluate("[...document.querySelectorAll('#compare-categories thead th')].map(h => h.textContent)")
    assert headers[1:] == leaders and len(leaders) >= 2
    browser.screenshot(artifacts / "compare-top-of-the-leaderboard.png")
