"""The reports in a real browser: Debian's Chromium, headless, from disk.

Skipped locally when Chromium is missing; in CI (`CI=true`) a missing Chromium fails instead. Screenshots and
PDFs are kept as artifacts (`browser/` under $GRADER_TEST_ARTIFACTS, else under `test-artifacts/` in the checkout).
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader import report
from tests.browser.conftest import REAL_SUBMISSIONS
from tests.factories import HIDDEN_NAMES, HOSTILE, error_result, graded_result
from tests.unit.grader.report.test_render import parse

from .browser import COMMON_FLAGS, Browser

pytestmark = pytest.mark.slow
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
ROWS = "[...document.querySelectorAll('#leaderboard tbody tr')]"
VISIBLE_NAMES = f"{ROWS}.filter(r => r.offsetParent !== null).map(r => r.dataset.name)"


def run_chromium(chromium: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Chromium's own command line (`--screenshot`, `--dump-dom`, `--print-to-pdf`) with a throwaway profile."""
    with tempfile.TemporaryDirectory(prefix="grader-chromium-") as profile:
        return subprocess.run([chromium, *COMMON_FLAGS, f"--user-data-dir={profile}", *args],
                              capture_output=True, text=True, timeout=180, check=False)


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[Browser]:
    with Browser(chromium) as page:
        yield page


@pytest.fixture(scope="module")
def hostile_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Reports of results whose names, file names, messages and log carry markup and script."""
    out = tmp_path_factory.mktemp("hostile-reports")
    results = [graded_result("eve" + HOSTILE, hostile=HOSTILE, started=False), graded_result("alice"),
               error_result("bad " + HOSTILE)]
    report.write_reports(results, out, ["html"])
    return out


# --- Chromium's command line ------------------------------------------------------------------------------------


def test_screenshots_and_pdf_from_the_command_line(chromium: str, graded_dir: Path, artifacts: Path) -> None:
    pages = {"candidate-report": graded_dir / "fastapi-flawed" / "report.html",
             "cohort-index": graded_dir / "index.html"}
    for label, page in pages.items():
        png = artifacts / f"cli-{label}.png"
        proc = run_chromium(chromium, f"--screenshot={png}", "--window-size=1280,2000", page.as_uri())
        assert png.is_file(), proc.stderr[-2000:]
        data = png.read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 20_000
    pdf = artifacts / "cli-candidate-report.pdf"
    proc = run_chromium(chromium, f"--print-to-pdf={pdf}", "--no-pdf-header-footer", pages["candidate-report"].as_uri())
    assert pdf.is_file(), proc.stderr[-2000:]
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF") and len(re.findall(rb"/Type\s*/Page\b", data)) >= 2  # prints on several pages


def test_dump_dom_shows_the_leaderboard_sorted_by_its_script(chromium: str, graded_dir: Path) -> None:
    url = (graded_dir / "index.html").as_uri() + "#sort=name&dir=asc"
    proc = run_chromium(chromium, "--dump-dom", url)
    assert proc.returncode == 0, proc.stderr[-2000:]
    page = parse(proc.stdout)
    table = next(attrs for tag, attrs in page.tags if tag == "table" and attrs.get("id") == "leaderboard")
    assert table.get("data-ready") == "true"  # the script ran
    names = [attrs["data-name"] for tag, attrs in page.tags if tag == "tr" and "data-name" in attrs]
    assert names == sorted(REAL_SUBMISSIONS)
    sorted_headers = [attrs for tag, attrs in page.tags if tag == "th" and attrs.get("aria-sort")]
    assert [(h["data-key"], h["aria-sort"]) for h in sorted_headers] == [("name", "ascending")]


# --- DevTools: console, network, interaction -----------------------------------------------------------------------


def test_reports_load_with_no_errors_and_fetch_nothing(browser: Browser, graded_dir: Path, artifacts: Path) -> None:
    pages = [graded_dir / name / "report.html" for name in REAL_SUBMISSIONS] + [graded_dir / "index.html"]
    for page in pages:
        browser.open(page)
        assert browser.errors() == [], page
        assert browser.requests() == [page.resolve().as_uri()], page
        assert browser.evaluate("document.styleSheets.length") == 1  # the inline stylesheet applied
        browser.screenshot(artifacts / f"{page.parent.name}-{page.stem}.png")
    browser.open(graded_dir / "fastapi-flawed" / "report.html")
    pdf = browser.pdf(artifacts / "fastapi-flawed-report.pdf")
    assert pdf.read_bytes().startswith(b"%PDF")


def test_the_heat_map_draws_a_profile_per_candidate_on_one_scale(browser: Browser, graded_dir: Path,
                                                                  artifacts: Path) -> None:
    """Issue 21: each graded candidate's categories as a small chart, every column on the same 0-100 scale."""
    browser.open(graded_dir / "index.html")
    assert browser.errors() == []
    names = browser.evaluate("[...document.querySelectorAll('svg.profile')].map(s => s.dataset.name)")
    assert {"fastapi-ref", "fastapi-flawed"} <= set(names) and "no-code" not in names

    def fill_height(name: str, category: str) -> float:
        height: float = browser.evaluate(
            f"(document.querySelector('svg.profile[data-name=\"{name}\"] g[data-category=\"{category}\"]"
            " .profile-fill') || {getBoundingClientRect: () => ({height: 0})}).getBoundingClientRect().height")
        return height

    reference, flawed = fill_height("fastapi-ref", "API design"), fill_height("fastapi-flawed", "API design")
    assert reference > 20 and flawed / reference == pytest.approx(0.7, abs=0.03)  # 70 and 100 out of 100
    label = browser.evaluate("document.querySelector('svg.profile[data-name=\"fastapi-flawed\"]')"
                             ".getAttribute('aria-label')")
    assert "API design 70/100" in label
    browser.screenshot(artifacts / "cohort-heat-map-profiles.png")


def test_leaderboard_sorts_by_clicked_column_and_filters(browser: Browser, graded_dir: Path) -> None:
    browser.open(graded_dir / "index.html")
    overall = f"{ROWS}.map(r => r.cells[2].dataset.value)"
    scores = browser.evaluate(overall)
    graded = [float(s) for s in scores if s]
    assert graded == sorted(graded, reverse=True) and scores[-1] == ""  # best first, not graded last

    browser.evaluate("document.querySelector('th[data-key=overall] button').click()")
    scores = browser.evaluate(overall)
    graded = [float(s) for s in scores if s]
    assert graded == sorted(graded) and scores[-1] == ""  # ascending; missing values still last
    assert browser.evaluate("document.querySelector('th[data-key=overall]').getAttribute('aria-sort')") == "ascending"

    browser.evaluate("document.querySelector('th[data-key=name] button').click()")
    assert browser.evaluate(f"{ROWS}.map(r => r.dataset.name)") == sorted(REAL_SUBMISSIONS)
    assert browser.evaluate(f"{ROWS}.map(r => r.querySelector('.rank').textContent)") == ["1", "2", "3", "4"]
    assert "sort=name" in browser.evaluate("location.hash")

    browser.evaluate("const f = document.getElementById('filter'); f.value = 'flawed';"
                     "f.dispatchEvent(new Event('input'))")
    assert browser.evaluate(VISIBLE_NAMES) == ["fastapi-flawed"]
    assert browser.evaluate("document.getElementById('filter-count').textContent") == "1 of 4 shown"
    browser.evaluate("const g = document.getElementById('filter'); g.value = ''; g.dispatchEvent(new Event('input'))")
    assert len(browser.evaluate(VISIBLE_NAMES)) == 4
    assert browser.errors() == []


def test_hostile_text_renders_as_text(browser: Browser, hostile_dir: Path, artifacts: Path) -> None:
    candidate = next(p for p in hostile_dir.iterdir() if p.name.startswith("eve")) / "report.html"
    for page in (candidate, hostile_dir / "index.html", hostile_dir / "submission" / "report.html"):
        browser.open(page)
        assert browser.evaluate("document.querySelectorAll('img, iframe, object, embed').length") == 0
        assert browser.evaluate("document.querySelectorAll('script').length") == (1 if page.name == "index.html" else 0)
        assert not [e for e in browser.events if e.get("method") == "Page.javascriptDialogOpening"]
        assert browser.errors() == []
        assert HOSTILE in browser.evaluate("document.body.innerText")
    browser.open(candidate)
    assert browser.evaluate("document.querySelector('h1').textContent") == "eve" + HOSTILE
    assert HOSTILE in browser.evaluate("document.querySelector('pre').textContent")  # the app's log tail
    browser.screenshot(artifacts / "hostile-report.png")


def test_candidate_audience_in_the_browser_names_no_hidden_test(browser: Browser, tmp_path: Path) -> None:
    report.write_reports([graded_result("alice")], tmp_path, ["html"], "candidate")
    browser.open(tmp_path / "alice" / "report.html")
    text = browser.evaluate("document.documentElement.outerHTML")
    assert not any(name in text for name in HIDDEN_NAMES)
    assert "Candidate feedback" in browser.evaluate("document.body.innerText")
