"""Rendering from hand-built results: every section, escaping, audiences, Markdown, JUnit and the files written."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest

from grader import report
from grader.cohort import SkippedEntry
from grader.models import Bands, Finding, GradeResult, WorkerRun
from tests.factories import HIDDEN_NAMES, HOSTILE, error_result, graded_result

# --- helpers ---------------------------------------------------------------------------------------------


class TagCollector(HTMLParser):
    """Every start tag with its attributes, and the page's text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(html: str) -> TagCollector:
    collector = TagCollector()
    collector.feed(html)
    return collector


def hidden_strings(result: GradeResult) -> list[str]:
    """Everything of the hidden suite a candidate must not see: names, ids and messages."""
    found = []
    for check in result.checks:
        for test in check.tests:
            found += [test.name, test.nodeid]
            if test.message:
                found.append(test.message.splitlines()[0])
    return [text for text in found if text]


# --- candidate report ---------------------------------------------------------------------------------------


def test_candidate_report_has_every_section() -> None:
    html = report.render_candidate_html(graded_result("alice"), "reviewer")
    for expected in (
        "alice", "75.5", "Hire", "Measured 75% of the scorecard", "Scorecard", "<svg",
        "Where points were lost", "typecheck.errors_per_100_lines", "app/main.py:42",  # deduction + evidence
        "Hidden tests · 1 of 2 passed", HIDDEN_NAMES[0], "POST /notes answered 200, expected 201",
        "Code hotspots and findings", "create_note has cyclomatic complexity 14",
        "The candidate's own tests", "coverage percent", "72%",
        "Review notes", "Interview questions", "How would you make POST /notes answer 201?",
        "Environment and reproducibility", "sha256:feedbeef", "grader-env:abc", "0.1.0", "docker · isolated",
    ):
        assert expected in html, expected
    assert "not isolated" not in html  # docker: no local-backend warning


def test_local_backend_shows_a_warning_banner() -> None:
    html = report.render_candidate_html(graded_result(local=True))
    assert "Graded with the local backend: not isolated" in html
    assert "local · NOT isolated" in html


def test_app_that_did_not_start_shows_the_problem_and_log_tail() -> None:
    html = report.render_candidate_html(graded_result(started=False))
    assert "The app did not start" in html
    assert "exited with code 3 before answering /health" in html
    assert "Traceback (most recent call last):" in html


def with_crashed_worker(result: GradeResult) -> GradeResult:
    assert result.app is not None
    worker = WorkerRun(command="python worker.py", exit_code=3, log_tail="worker: cannot reach the job queue\n",
                       problem="the worker exited with code 3 while the app ran")
    return result.model_copy(update={"app": result.app.model_copy(update={"worker": worker})})


def test_a_worker_that_ended_shows_its_exit_and_log_to_the_reviewer_only() -> None:
    result = with_crashed_worker(graded_result())
    html = report.render_candidate_html(result, "reviewer")
    assert "Worker · the worker exited with code 3 while the app ran" in html
    assert "python worker.py" in html and "worker: cannot reach the job queue" in html
    candidate = report.render_candidate_html(result, "candidate")
    assert "Worker · the worker exited with code 3 while the app ran" in candidate
    assert "cannot reach the job queue" not in candidate


def test_a_worker_that_ran_until_the_end_shows_no_banner() -> None:
    result = with_crashed_worker(graded_result())
    assert result.app is not None and result.app.worker is not None
    calm = result.app.worker.model_copy(update={"exit_code": None, "problem": None})
    app = result.app.model_copy(update={"worker": calm})
    html = report.render_candidate_html(result.model_copy(update={"app": app}))
    assert 'id="worker-ended"' not in html


def did_not_run_result(name: str = "carol") -> GradeResult:
    """A graded result whose app never became ready: `outcome` set, the suite's categories counted as 0."""
    result = graded_result(name, started=False)
    categories = [c.model_copy(update={"score": 0.0, "evaluated": False, "counts_as_zero": True,
                                       "note": "counts as 0: the app never became ready"})
                  if c.id in ("api_design", "databases", "observability") else c for c in result.categories]
    return result.model_copy(update={"outcome": "did_not_run", "categories": categories, "overall": 30.0,
                                     "evaluated_weight": 35.0})


def test_an_app_that_did_not_run_leads_every_report() -> None:
    result = did_not_run_result()
    assert report.result_band(result) == report.DID_NOT_RUN
    html = report.render_candidate_html(result)
    banner = html.index('id="did-not-run"')
    assert banner < html.index("hero-card") and banner < html.index("Scorecard")
    assert "Did not run · The app did not start: exited with code 3 before answering /health." in html
    assert "counted as 0: API design, Databases, Observability" in html
    assert "0 / 100 · did not run" in html
    markdown = report.render_markdown(result)
    assert markdown.startswith("### carol: did not run · 30/100\n\n> **The app did not start: exited with code 3")
    assert "| API design | 20% | 0 (did not run) |" in markdown
    cases = ET.fromstring(report.render_junit([result])).findall("testsuite/testcase")
    assert cases[0].get("name") == "app" and cases[0].find("failure") is not None
    assert len(cases) == len(result.checks) + len(result.suite_tests()) + 1
    cohort = report.render_cohort_html([graded_result("alice"), result])
    assert cohort.index('id="did-not-run"') < cohort.index('id="leaderboard"')
    assert '<span class="band did-not-run">Did not run</span>' in cohort
    assert "**Did not run**" in report.render_markdown([graded_result("alice"), result])


def test_an_app_that_did_not_run_ranks_below_those_that_ran() -> None:
    static_heavy = did_not_run_result("carol").model_copy(update={"overall": 90.0})  # above alice's 75.5
    rows = report.cohort_rows([static_heavy, graded_result("alice")], [])
    assert [(row.name, row.band.label) for row in rows] == [("alice", "Hire"), ("carol", "Did not run")]


def test_not_graded_result_renders_a_clear_page() -> None:
    html = report.render_candidate_html(error_result("No Python file was found in the submission"))
    assert "This submission was not graded" in html
    assert "No Python file was found in the submission" in html
    assert "It is not a score of zero" in html
    assert "Scorecard" not in html


def test_page_is_self_contained() -> None:
    html = report.render_candidate_html(graded_result(local=True))
    page = parse(html)
    tags = {tag for tag, _ in page.tags}
    assert not tags & {"script", "link", "img", "iframe", "object", "embed"}
    for _, attrs in page.tags:
        for name in ("src", "href", "action"):
            value = attrs.get(name) or ""
            assert not re.match(r"^(https?:)?//", value), (name, value)
    assert "@import" not in html and not re.search(r"url\((?!#band-)", html)  # only the page's own SVG patterns
    csp = next(attrs["content"] for tag, attrs in page.tags if attrs.get("http-equiv") == "Content-Security-Policy")
    assert csp is not None and "default-src 'none'" in csp and "script-src 'none'" in csp


@pytest.mark.parametrize(("score", "band"), [(85, "Strong hire"), (84.9, "Hire"), (70, "Hire"), (50, "Lean no"),
                                             (49.9, "No"), (None, "Not scored")])
def test_default_bands(score: float | None, band: str) -> None:
    assert report.band_for(score, Bands()).label == band


def test_bands_come_from_the_result_when_it_carries_them() -> None:
    result = graded_result()
    assert report.result_bands(result) == Bands()
    strict = result.model_copy(update={"bands": Bands(strong_hire=95, hire=90, lean_no=80)})
    assert report.result_band(strict).label == "No"  # 75.5 is below the challenge's lean-no threshold
    reread = GradeResult.model_validate_json(strict.model_dump_json())  # rendering reads result.json only
    assert report.result_band(reread).label == "No"


# --- untrusted text ---------------------------------------------------------------------------------------------


def test_hostile_text_is_escaped_everywhere_in_html() -> None:
    result = graded_result("bob" + HOSTILE, hostile=HOSTILE, started=False)
    for html in (report.render_candidate_html(result), report.render_cohort_html([result, graded_result()])):
        assert "<script>alert" not in html
        assert "<img src=x" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        page = parse(html)
        assert not any(tag == "img" for tag, _ in page.tags)
        assert not any(name.startswith("on") for _, attrs in page.tags for name in attrs)
        assert HOSTILE in "".join(page.text)  # shown as text, intact


def test_hostile_text_is_inert_in_markdown_and_junit() -> None:
    result = graded_result("bob" + HOSTILE, hostile=HOSTILE)
    markdown = report.render_markdown(result)
    assert "<script>" not in markdown and "<img" not in markdown
    junit = report.render_junit([result])
    root = ET.fromstring(junit)
    assert root.find("testsuite").get("name") == "bob" + HOSTILE  # type: ignore[union-attr]


def test_junit_drops_characters_xml_cannot_hold() -> None:
    result = graded_result()
    result.checks[0].tests[0].message = "colour \x1b[31mred\x1b[0m and a NUL \x00"
    root = ET.fromstring(report.render_junit([result]))
    messages = [f.text or "" for f in root.iter("failure")]
    assert any("colour [31mred[0m and a NUL " in m for m in messages)


# --- audience -----------------------------------------------------------------------------------------------------


def test_candidate_audience_hides_hidden_tests_code_logs_and_notes() -> None:
    result = graded_result(started=False)
    html = report.render_candidate_html(result, "candidate")
    for secret in [*hidden_strings(result), "Traceback", "How would you make", "Reviewer copy"]:
        assert secret not in html, secret
    assert "Candidate feedback" in html
    assert "Hidden tests:</b> 1 of 2 passed" in html
    assert "75.5" in html and "API design" in html
    # the copy teaches: every static finding with its file:line and what to do about it
    findings = html[html.index('id="findings"'):]
    for where, todo in (("app/main.py:42", "annotate the functions and fix the reported type errors"),
                        ("app/routes.py:40", "split the function into smaller ones")):
        row = findings[findings.index(where):]
        assert todo in row[:row.index("</tr>")], where
    lost = html[html.index('id="lost"'):]
    assert "what to do:" in lost[:lost.index("</section>")]


def test_redacted_result_keeps_totals_but_no_names() -> None:
    result = graded_result()
    redacted = report.redact_for_candidate(result)
    assert redacted.hidden_totals() == result.hidden_totals() == (2, 3)
    dumped = redacted.model_dump_json()
    for secret in hidden_strings(result):
        assert secret not in dumped, secret
    assert redacted.review is None
    suite = [c for c in redacted.checks if c.suite is not None]
    assert suite and all(not c.findings and all(d.reason == "a hidden test failed" for d in c.deductions)
                         for c in suite)
    kept = {c.id: (c.findings, c.deductions) for c in result.checks if c.suite is None}
    assert {c.id: (c.findings, c.deductions) for c in redacted.checks if c.suite is None} == kept


def test_unknown_audience_is_an_error() -> None:
    with pytest.raises(report.ReportError, match="unknown audience"):
        report.render_candidate_html(graded_result(), "everyone")  # type: ignore[arg-type]


# --- markdown ---------------------------------------------------------------------------------------------------


def test_markdown_summary_for_one_result() -> None:
    markdown = report.render_markdown(graded_result("alice"))
    assert markdown.startswith("### alice: 75.5/100 · Hire")
    assert "| Category | Weight | Score |" in markdown
    assert "| API design | 20% | 50 |" in markdown
    assert "| Infrastructure | 15% | not evaluated |" in markdown
    assert "**Where points were lost** (points of the overall 100)" in markdown
    # 3.5 of the category's 18 check points, weight 20 of the 75 evaluated: 5.19 points of the overall score
    assert "\N{MINUS SIGN}5.19 · Python fundamentals · mypy --strict finds 4 type errors per 100 lines" in markdown
    assert len(markdown.splitlines()) < 40


def test_markdown_for_the_candidate_has_no_band_and_no_test_names() -> None:
    markdown = report.render_markdown(graded_result("alice"), "candidate")
    assert markdown.startswith("### alice: 75.5/100\n")
    assert "Hire" not in markdown and not any(name in markdown for name in HIDDEN_NAMES)
    assert "Top deductions" not in markdown and "| API design | 20% | 50 |" in markdown


def test_markdown_for_an_error_and_for_a_cohort() -> None:
    assert "not graded" in report.render_markdown(error_result("no code"))
    cohort = report.render_markdown([graded_result("alice"), error_result("no code here")])
    assert "| 1 | alice | 75.5 | Hire | 75% | 2/3 |" in cohort
    assert "**Not graded**" in cohort and "no code here" in cohort


# --- junit ---------------------------------------------------------------------------------------------------------


def test_junit_has_a_testcase_per_hidden_test_and_per_check() -> None:
    result = graded_result()
    root = ET.fromstring(report.render_junit([result, error_result("no code")]))
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["alice", "submission"]  # sorted by name
    cases = suites[0].findall("testcase")
    names = [c.get("name") for c in cases]
    assert len(cases) == len(result.checks) + 4 and set(HIDDEN_NAMES) <= set(names)
    assert suites[0].get("tests") == str(len(cases))
    failures = suites[0].findall("testcase/failure")
    # failed: hidden-tests/api_design, typecheck, candidate_tests (checks) + one hidden test
    assert suites[0].get("failures") == str(len(failures)) == "4"
    assert suites[0].get("skipped") == "1"
    failed = next(c for c in cases if c.get("name") == HIDDEN_NAMES[0])
    assert "expected 201" in (failed.find("failure").get("message") or "")  # type: ignore[union-attr]
    assert suites[1].get("errors") == "1" and "no code" in (suites[1].find("testcase/error").text or "")  # type: ignore[union-attr]
    assert root.get("tests") == str(len(cases) + 1)


# --- loading and writing -----------------------------------------------------------------------------------------


def write_result(directory: Path, result: GradeResult) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "result.json"
    path.write_text(result.model_dump_json(indent=2))
    return path


def test_load_results_reads_files_and_directories_and_reports_bad_ones(tmp_path: Path) -> None:
    write_result(tmp_path / "run" / "alice", graded_result("alice"))
    write_result(tmp_path / "run" / "nocode", error_result())
    (tmp_path / "run" / "broken").mkdir()
    (tmp_path / "run" / "broken" / "result.json").write_text("{not json")
    single = write_result(tmp_path / "elsewhere", graded_result("bob"))
    problems: list[str] = []
    results = report.load_results([tmp_path / "run", single, tmp_path / "missing"], on_error=problems.append)
    assert sorted(report.display_name(r) for r in results) == ["alice", "bob", "nocode"]
    assert len(problems) == 2
    assert str(tmp_path / "run" / "broken" / "result.json") in problems[0] and "not a valid result.json" in problems[0]
    assert "missing: no such file or directory" in problems[1]
    with pytest.raises(report.ReportError, match="broken"):
        report.load_results([tmp_path / "run"])


def test_write_reports_layout_and_links(tmp_path: Path) -> None:
    results = [graded_result("alice"), graded_result("alice"), graded_result("../evil" + HOSTILE), error_result()]
    out = tmp_path / "out"
    written = report.write_reports(results, out, ["html", "json", "md", "junit"])
    assert all(path.is_relative_to(out) and path.is_file() for path in written)
    names = sorted(p.name for p in out.iterdir())
    assert names == ["alice", "alice-2", "compare-top.html", "evil-script-alert-1-script-img-src-x-onerror-alert-2",
                     "index.html", "junit.xml", "submission", "summary.md"]
    for directory in (p for p in out.iterdir() if p.is_dir()):
        assert {p.name for p in directory.iterdir()} == {"report.html", "result.json", "summary.md", "junit.xml"}
        GradeResult.model_validate_json((directory / "result.json").read_text())
    hrefs = [attrs["href"] for tag, attrs in parse((out / "index.html").read_text()).tags if tag == "a"]
    assert len(hrefs) >= 4
    for href in hrefs:
        assert href is not None and (out / href).is_file(), href


def test_single_result_gets_no_cohort_files(tmp_path: Path) -> None:
    written = report.write_reports([graded_result("alice")], tmp_path, ["html", "md"])
    assert written == [tmp_path / "alice" / "report.html", tmp_path / "alice" / "summary.md"]


def test_candidate_audience_writes_a_redacted_json_and_never_overwrites_the_result(tmp_path: Path) -> None:
    original = write_result(tmp_path / "alice", graded_result("alice"))
    write_result(tmp_path / "bob", graded_result("bob"))
    before = original.read_text()
    results = report.load_results([tmp_path])
    written = report.write_reports(results, tmp_path, ["json", "html", "md", "junit"], "candidate")
    assert original.read_text() == before
    assert tmp_path / "alice" / "result.candidate.json" in written
    assert not (tmp_path / "index.html").exists()  # no cohort page: it would show alice to bob
    for path in written:
        text = path.read_text()
        for secret in hidden_strings(results[0]):
            assert secret not in text, (path.name, secret)
    json.loads((tmp_path / "alice" / "result.candidate.json").read_text())


def test_rendering_in_place_keeps_result_json(tmp_path: Path) -> None:
    original = write_result(tmp_path / "alice", graded_result("alice"))
    before = original.read_bytes()
    report.write_reports(report.load_results([tmp_path]), tmp_path, ["json", "html"])
    assert original.read_bytes() == before


@pytest.mark.parametrize("text", ["pdf", "html,xml", "", " , "])
def test_bad_formats_are_rejected(text: str) -> None:
    with pytest.raises(report.ReportError, match="unknown report format"):
        report.parse_formats(text)


def test_formats_are_parsed_in_order_without_repeats() -> None:
    assert report.parse_formats("md, HTML,md,junit") == ("md", "html", "junit")


def test_candidate_tests_section_names_the_runner() -> None:
    result = graded_result("alice")
    own = next(check for check in result.checks if check.id == "candidate_tests")
    own.findings.append(Finding(message="tests run with `python manage.py test`: a Django project", rule="test-runner",
                                category="testing", severity="info"))
    html = report.render_candidate_html(result, "reviewer")
    section = html.split('id="own-tests"', 1)[1].split("</section>", 1)[0]
    assert "tests run with `python manage.py test`: a Django project" in section


# --- a cohort folder's skipped entries (grader.cohort) ----------------------------------------------------------


def skipped(name: str, reason: str = "not a submission: a plain file") -> SkippedEntry:
    return SkippedEntry(folder="/data/cohort", name=name, reason=reason)


def test_the_cohort_reports_list_skipped_entries_with_hostile_names_inert(tmp_path: Path) -> None:
    """A file name in a cohort folder is the candidate's text: escaped in HTML, inert in Markdown."""
    entries = [skipped(HOSTILE + ".rar", "a RAR archive: repack it as .zip"), skipped("[x](http://e.example)|.txt")]
    written = report.write_reports([graded_result("alice")], tmp_path, ["html", "md"], skipped=entries)
    assert tmp_path / "index.html" in written and tmp_path / "summary.md" in written  # one result, but skips
    page = parse((tmp_path / "index.html").read_text())
    assert [tag for tag, _ in page.tags if tag in ("img", "script")] == ["script"]  # the report's own only
    assert f"cohort/{HOSTILE}.rar" in "".join(page.text)  # shown as text
    assert "a RAR archive: repack it as .zip" in "".join(page.text)
    markdown = (tmp_path / "summary.md").read_text()
    assert "- cohort/" in markdown and "a RAR archive: repack it as .zip" in markdown
    assert "<script>" not in markdown and "[x](" not in markdown  # no HTML, no link
    assert "cohort/\\[x\\](http://e.example)\\|.txt: not a submission" in markdown


def test_no_skipped_entries_means_no_section_and_one_result_no_cohort_files(tmp_path: Path) -> None:
    html = report.render_cohort_html([graded_result("alice"), graded_result("bob")])
    assert 'id="skipped"' not in html and "Skipped entries" not in html
    assert "Not graded: not a submission" not in report.render_cohort_markdown([graded_result("alice")])
    assert report.write_reports([graded_result("alice")], tmp_path, ["html"], skipped=[]) == [
        tmp_path / "alice" / "report.html"]


def test_the_cohort_summary_warns_about_the_local_backend() -> None:
    local = report.render_cohort_markdown([graded_result("alice", local=True), graded_result("bob")])
    assert "**Warning:** some submissions were graded with the local backend (not isolated)" in local
    assert "Warning" not in report.render_cohort_markdown([graded_result("alice"), graded_result("bob")])
    assert "local backend" in report.render_markdown([graded_result("alice", local=True), graded_result("bob")])
