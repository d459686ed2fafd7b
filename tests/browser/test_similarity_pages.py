"""The similarity views in a real browser: the cohort page's section links to a side-by-side page that
renders both submissions with the matched regions highlighted, under the reports' Content-Security-Policy."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from grader import report
from grader.models import SimilaritySettings
from grader.report.similarity_pages import write_similarity_pages
from grader.results import write_result
from grader.similarity.cohort import write_similarity
from grader.similarity.compare import Entry, compare
from grader.similarity.store import compute_prints
from tests.factories import graded_result
from tests.unit.grader.similarity.test_compare import FIXTURES

from .browser import Browser

NAMES = ("original", "renamed", "unrelated")


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[Browser]:
    with Browser(chromium) as page:
        yield page


@pytest.fixture(scope="module")
def cohort_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("similarity-out")
    settings = SimilaritySettings()  # type: ignore[call-arg]
    results = [graded_result(name) for name in NAMES]
    for result, name in zip(results, NAMES, strict=True):
        write_result(result, out / name)
    entries = [Entry(name, compute_prints(FIXTURES / name, settings.k, settings.window), root=FIXTURES / name)
               for name in NAMES]
    comparison = compare(entries, settings)
    write_similarity(out, comparison, [])
    write_similarity_pages(out, comparison)
    report.write_reports(results, out, ["html"])
    return out


def test_cohort_section_links_to_a_side_by_side_page(browser: Browser, cohort_out: Path, artifacts: Path) -> None:
    browser.open(cohort_out / "index.html")
    rows = browser.evaluate("[...document.querySelectorAll('#similarity tbody tr')].map(r => r.innerText)")
    assert len(rows) == 1 and "original" in rows[0] and "renamed" in rows[0]
    href = browser.evaluate("document.querySelector('#similarity a').getAttribute('href')")
    assert browser.errors() == []

    browser.open(cohort_out / href)
    assert browser.evaluate("document.querySelectorAll('#side-left mark').length") > 20
    assert browser.evaluate("document.querySelectorAll('#side-right mark').length") > 20
    left = browser.evaluate("document.querySelector('#side-left').getBoundingClientRect().left")
    right = browser.evaluate("document.querySelector('#side-right').getBoundingClientRect().left")
    assert right > left  # side by side, not one under the other
    assert "not a verdict" in browser.evaluate("document.querySelector('#pair-summary').innerText")
    assert browser.errors() == [] and all(url.startswith("file:") for url in browser.requests())
    browser.screenshot(artifacts / "similarity-pair.png")


def test_candidate_report_links_to_the_pair(browser: Browser, cohort_out: Path) -> None:
    browser.open(cohort_out / "renamed" / "report.html")
    text = browser.evaluate("document.querySelector('#similar-to').innerText")
    assert "original" in text
    href = browser.evaluate("document.querySelector('#similar-to a').href")
    assert href.endswith(".html") and "/similarity/" in href
