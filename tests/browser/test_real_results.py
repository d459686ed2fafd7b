"""Reports of real results: graded by `grader grade --sandbox local --format ...`, re-rendered by `grader report`."""

from __future__ import annotations

import filecmp
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from grader import report
from grader.models import GradeResult
from tests.browser.conftest import REAL_SUBMISSIONS
from tests.unit.grader.report.test_cli_report import run_grader
from tests.unit.grader.report.test_render import parse

pytestmark = pytest.mark.slow


def load(graded_dir: Path, name: str) -> GradeResult:
    return GradeResult.model_validate_json((graded_dir / name / "result.json").read_text())


def test_grade_writes_every_report(graded_dir: Path) -> None:
    for name in REAL_SUBMISSIONS:
        for file in ("result.json", "report.html", "summary.md", "junit.xml"):
            assert (graded_dir / name / file).is_file(), f"{name}/{file}"
    for file in ("index.html", "summary.md", "junit.xml"):
        assert (graded_dir / file).is_file(), file


def test_cohort_links_resolve_and_list_every_submission(graded_dir: Path) -> None:
    html = (graded_dir / "index.html").read_text()
    hrefs = {attrs["href"] for tag, attrs in parse(html).tags if tag == "a"}
    assert {f"{name}/report.html" for name in REAL_SUBMISSIONS} <= hrefs
    for href in hrefs:
        assert href is not None and (graded_dir / href).is_file(), href
    assert "No Python file was found" in html  # the errored submission, listed with why


def test_real_reports_show_what_happened(graded_dir: Path) -> None:
    flawed = (graded_dir / "fastapi-flawed" / "report.html").read_text()
    for name in load(graded_dir, "fastapi-flawed").checks[0].tests:
        assert name.name in flawed
    assert "expected 201" in flawed and "Graded with the local backend" in flawed
    crashed = (graded_dir / "crashes-at-start" / "report.html").read_text()
    assert "The app did not start" in crashed and "boom: missing configuration" in crashed
    no_code = (graded_dir / "no-code" / "report.html").read_text()
    assert "This submission was not graded" in no_code and "No Python file was found" in no_code
    summary = (graded_dir / "fastapi-ref" / "summary.md").read_text()
    assert summary.startswith("### fastapi-ref: ") and "| API design | 20% | 100 |" in summary


def test_junit_counts_match_the_results(graded_dir: Path) -> None:
    for name in REAL_SUBMISSIONS:
        result = load(graded_dir, name)
        suite = ET.parse(graded_dir / name / "junit.xml").getroot().find("testsuite")
        assert suite is not None
        tests = [t for c in result.checks for t in c.tests]
        not_run = int(result.did_not_run)  # an app that never became ready: a failing `app` testcase first
        expected = len(result.checks) + len(tests) + not_run if result.status == "graded" else 1
        assert int(suite.get("tests", "-1")) == expected == len(suite.findall("testcase"))
        failed_tests = sum(t.outcome == "failed" for t in tests)
        failed_checks = sum(c.status == "failed" for c in result.checks)
        assert int(suite.get("failures", "-1")) == failed_tests + failed_checks + not_run
    cohort = ET.parse(graded_dir / "junit.xml").getroot()
    assert len(cohort.findall("testsuite")) == len(REAL_SUBMISSIONS)


def test_report_rerenders_the_same_reports_from_json_alone(graded_dir: Path, tmp_path: Path) -> None:
    proc = run_grader("report", str(graded_dir), "--out", str(tmp_path), "--format", "html,json,md,junit")
    assert proc.returncode == 0, proc.stderr
    for name in (*REAL_SUBMISSIONS, "."):
        for file in ("report.html", "index.html", "summary.md", "junit.xml", "result.json"):
            original = graded_dir / name / file
            if original.exists():
                assert filecmp.cmp(original, tmp_path / name / file, shallow=False), f"{name}/{file}"


def test_candidate_audience_of_real_results_names_no_hidden_test(graded_dir: Path, tmp_path: Path) -> None:
    proc = run_grader("report", str(graded_dir), "--out", str(tmp_path), "--audience", "candidate",
                      "--format", "html,json,md,junit")
    assert proc.returncode == 0, proc.stderr
    results = report.load_results([graded_dir])
    secrets = {t.name for r in results for c in r.checks for t in c.tests}
    secrets |= {t.message.splitlines()[0] for r in results for c in r.checks for t in c.tests if t.message}
    assert len(secrets) > 18
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(written) == 4 * len(REAL_SUBMISSIONS)  # no cohort files: they would show one candidate the others
    for path in written:
        text = path.read_text()
        leaked = [secret for secret in secrets if secret in text]
        assert not leaked, (path, leaked[:3])
