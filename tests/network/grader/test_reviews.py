"""Reviews survive a re-grading: unchanged content keeps its adjustment applied; changed content shows it
flagged and not applied. Real gradings with the local backend (the environment needs the package index)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.unit.grader.test_check_command import HELLO_ROOT, grader, read_result

pytestmark = pytest.mark.slow


def grade(submission: Path, out: Path, *extra: str) -> None:
    proc = grader("grade", str(submission), "--challenge", "hello-api", "--sandbox", "local", "--out", str(out),
                  "--format", "json,html", *extra)
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_a_regrading_keeps_reviews_on_their_content_hash(tmp_path: Path) -> None:
    submission = tmp_path / "dana-solution"
    shutil.copytree(HELLO_ROOT / "solutions" / "fastapi-flawed", submission)
    out = tmp_path / "out"
    grade(submission, out)
    machine = read_result(out / "dana-solution" / "result.json").overall
    assert machine is not None
    proc = grader("review", "dana-solution", "--category", "api_design", "--adjust", "+10", "--reason",
                  "Explained the 201 in the interview", "--by", "Dana", "--out", str(out))
    assert proc.returncode == 0, proc.stderr

    grade(submission, out, "--force")  # same content: still applied
    page = (out / "dana-solution" / "report.html").read_text()
    assert f"adjusted {round(machine + 2, 1):g}" in page and "not applied" not in page

    main = submission / "main.py"
    main.write_text(main.read_text() + "\n# a change after the review\n")
    grade(submission, out)  # changed content: graded again, the review flagged
    page = (out / "dana-solution" / "report.html").read_text()
    assert "not applied: made on an earlier version of the submission" in page
    assert "Explained the 201 in the interview" in page
