"""`grader report`: exit codes, one-line errors and the files it writes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from grader.models import GradeResult
from tests.factories import error_result, graded_result


def run_grader(*args: str, cache: Path | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m grader ARGS` with an optional cache directory."""
    env = dict(os.environ)
    if cache is not None:
        env["GRADER_CACHE_DIR"] = str(cache)
    return subprocess.run([sys.executable, "-m", "grader", *args], capture_output=True, text=True, env=env,
                          timeout=900, check=False)


def write_result(directory: Path, result: GradeResult) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "result.json"
    path.write_text(result.model_dump_json(indent=2))
    return path


def test_report_renders_a_results_directory(tmp_path: Path) -> None:
    write_result(tmp_path / "results" / "alice", graded_result("alice"))
    write_result(tmp_path / "results" / "nocode", error_result())
    out = tmp_path / "reports"
    proc = run_grader("report", str(tmp_path / "results"), "--out", str(out), "--format", "html,md,junit")
    assert proc.returncode == 0, proc.stderr
    for name in ("alice/report.html", "alice/summary.md", "alice/junit.xml", "nocode/report.html", "index.html",
                 "summary.md", "junit.xml"):
        assert (out / name).is_file(), name
        assert str(out / name) in proc.stdout
    assert not (out / "alice" / "result.json").exists()  # json was not asked for


def test_a_bad_path_is_one_line_and_exit_3(tmp_path: Path) -> None:
    proc = run_grader("report", str(tmp_path / "nope"), "--out", str(tmp_path / "out"))
    assert proc.returncode == 3
    assert proc.stderr.strip() == f"error: {tmp_path / 'nope'}: no such file or directory"
    assert not (tmp_path / "out").exists()


def test_an_invalid_result_file_is_one_line_naming_it(tmp_path: Path) -> None:
    bad = tmp_path / "result.json"
    bad.write_text('{"status": "graded"}')
    proc = run_grader("report", str(bad), "--out", str(tmp_path / "out"))
    assert proc.returncode == 3
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and str(bad) in lines[0] and "not a valid result.json" in lines[0]
    assert "Traceback" not in proc.stderr


def test_bad_files_are_reported_and_the_rest_are_rendered(tmp_path: Path) -> None:
    write_result(tmp_path / "alice", graded_result("alice"))
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "result.json").write_text("{")
    out = tmp_path / "out"
    proc = run_grader("report", str(tmp_path / "alice"), str(tmp_path / "broken"), "--out", str(out))
    assert proc.returncode == 1
    assert f"error: {tmp_path / 'broken' / 'result.json'}: not a valid result.json" in proc.stderr
    assert "1 path(s) could not be read; 1 result(s) were rendered" in proc.stderr
    assert (out / "alice" / "report.html").is_file() and (out / "alice" / "result.json").is_file()


def test_unknown_format_or_audience_is_a_usage_error(tmp_path: Path) -> None:
    write_result(tmp_path / "alice", graded_result("alice"))
    proc = run_grader("report", str(tmp_path), "--out", str(tmp_path / "out"), "--format", "html,pdf")
    assert proc.returncode == 2 and "unknown report format pdf" in proc.stderr
    proc = run_grader("report", str(tmp_path), "--out", str(tmp_path / "out"), "--audience", "everyone")
    assert proc.returncode == 2 and "--audience" in proc.stderr
    proc = run_grader("grade", str(tmp_path), "--challenge", "hello-api", "--format", "xml")
    assert proc.returncode == 2 and "unknown report format xml" in proc.stderr


def test_candidate_audience_from_the_cli(tmp_path: Path) -> None:
    result = graded_result("alice")
    write_result(tmp_path / "results" / "alice", result)
    out = tmp_path / "shared"
    proc = run_grader("report", str(tmp_path / "results"), "--out", str(out), "--audience", "candidate",
                      "--format", "html,json,md")
    assert proc.returncode == 0, proc.stderr
    names = {t.name for c in result.checks for t in c.tests}
    for path in (out / "alice").iterdir():
        text = path.read_text()
        assert not any(name in text for name in names), path
    assert {p.name for p in (out / "alice").iterdir()} == {"report.html", "result.candidate.json", "summary.md"}
