"""A cohort folder through the real CLI (local backend): tar.xz and tar.bz2 archives are graded, a RAR is
listed as skipped with its reason in the terminal, summary.md, index.html, cohort.json and the job summary,
and `grader report` shows it again. A single archive with an unusual name is graded by its content."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from grader.cohort import COHORT_FILE, CohortRecord
from grader.models import GradeResult
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.slow
PROJECT = REPO_ROOT / "tests" / "fixtures" / "submissions" / "stdlib-health"
Graded = tuple[Path, Path, subprocess.CompletedProcess[str], Path]  # cohort, OUT, the run, the job summary
RAR_REASON = "a RAR archive: the grader reads zip and tar archives (gz, bz2, xz); repack it as .zip"


def grader(*args: str, summary: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "GITHUB_STEP_SUMMARY"}
    if summary is not None:
        env["GITHUB_STEP_SUMMARY"] = str(summary)
    return subprocess.run([sys.executable, "-m", "grader", *args], capture_output=True, text=True, env=env,
                          timeout=900, check=False)


def pack(archive: Path, mode: str) -> Path:
    with tarfile.open(archive, mode) as handle:
        handle.add(PROJECT, arcname=PROJECT.name)
    return archive


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> Graded:
    """One grading of a cohort folder holding a .tar.xz, a .tar.bz2 and a .rar."""
    root = tmp_path_factory.mktemp("cohort")
    cohort = root / "cohort"
    cohort.mkdir()
    pack(cohort / "alice.tar.xz", "w:xz")
    pack(cohort / "bob.tar.bz2", "w:bz2")
    (cohort / "carol.rar").write_bytes(b"Rar!\x1a\x07\x01\x00" + bytes(range(64)))  # a RAR 5 signature
    out, summary = root / "out", root / "step-summary.md"
    proc = grader("grade", str(cohort), "--challenge", "hello-api", "--sandbox", "local", "--out", str(out),
                  "--format", "json,html,md", summary=summary)
    return cohort, out, proc, summary


def test_the_tar_xz_and_tar_bz2_archives_are_graded(graded: Graded) -> None:
    _, out, proc, _ = graded
    assert proc.returncode == 0, proc.stderr
    for name in ("alice", "bob"):
        result = GradeResult.model_validate_json((out / name / "result.json").read_text())
        assert result.status == "graded" and result.app is not None and result.app.started, result.error
    assert not (out / "carol").exists()


def test_the_terminal_lists_the_rar_before_grading_starts(graded: Graded) -> None:
    cohort, _, proc, _ = graded
    heading = f"skipped: {cohort}: 1 of 3 entries not graded:"
    assert heading in proc.stderr
    assert f"carol.rar: {RAR_REASON}" in proc.stderr
    assert proc.stderr.index(heading) < proc.stderr.index("grading 2 submission(s)")


def test_summary_index_and_cohort_json_list_the_rar(graded: Graded) -> None:
    cohort, out, _, summary = graded
    markdown = (out / "summary.md").read_text()
    assert f"- cohort/carol.rar: {RAR_REASON}" in markdown
    assert "graded with the local backend (not isolated)" in markdown  # the warning the cohort summary lacked
    assert markdown.strip() in summary.read_text()  # the GitHub job summary is the same text
    page = (out / "index.html").read_text()
    assert "Skipped in the cohort folder" in page and "cohort/carol.rar</td>" in page and RAR_REASON in page
    record = CohortRecord.model_validate_json((out / COHORT_FILE).read_text())
    (folder,) = record.folders
    assert folder.folder == str(cohort) and folder.submissions == ["alice.tar.xz", "bob.tar.bz2"]
    assert [(entry.name, entry.reason) for entry in folder.skipped] == [("carol.rar", RAR_REASON)]


def test_grader_report_shows_the_skipped_entries_again(graded: Graded, tmp_path: Path) -> None:
    _, out, _, _ = graded
    proc = grader("report", str(out), "--out", str(tmp_path / "again"), "--format", "html,md")
    assert proc.returncode == 0, proc.stderr
    assert RAR_REASON in (tmp_path / "again" / "index.html").read_text()
    assert RAR_REASON in (tmp_path / "again" / "summary.md").read_text()


def test_a_single_archive_with_an_unusual_name_is_graded_by_its_content(graded: Graded, tmp_path: Path) -> None:
    upload = pack(tmp_path / "dave.upload", "w:gz")
    out = tmp_path / "out"
    proc = grader("grade", str(upload), "--challenge", "hello-api", "--sandbox", "local", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    result = GradeResult.model_validate_json((out / "dave.upload" / "result.json").read_text())
    assert result.status == "graded" and result.submission is not None
    assert result.submission.source_kind == "tar"
