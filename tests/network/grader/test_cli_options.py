"""-v and -q on a real grading (local backend, so the package index is needed); the other CLI conveniences
are tests/unit/grader/test_cli_options.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO_ROOT
from tests.unit.grader.test_cli_options import SUBMISSION


def grade(tmp_path: Path, before: tuple[str, ...] = (), after: tuple[str, ...] = ()
          ) -> subprocess.CompletedProcess[str]:
    """`grader [BEFORE] grade crashes-at-start ... [AFTER]` on the local backend, into an --out of its own."""
    out = tmp_path / "-".join(flag.strip("-") for flag in (*before, *after) or ["plain"])
    return subprocess.run(
        [sys.executable, "-m", "grader", *before, "grade", str(SUBMISSION), "--challenge", "hello-api",
         "--sandbox", "local", "--out", str(out), *after],
        capture_output=True, text=True, timeout=600, check=False, cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )


def test_quiet_prints_only_result_lines_warnings_and_errors(tmp_path: Path) -> None:
    quiet = grade(tmp_path, after=("-q",))
    assert quiet.returncode == 0, quiet.stderr
    assert "crashes-at-start" in quiet.stdout  # its result line
    assert [line for line in quiet.stderr.splitlines() if not line.startswith("warning:")] == [], quiet.stderr


def test_verbose_shows_every_progress_line_and_the_detail_lines(tmp_path: Path) -> None:
    normal = grade(tmp_path)
    verbose = grade(tmp_path, before=("-v",))
    assert normal.returncode == verbose.returncode == 0, verbose.stderr
    progress = [line for line in normal.stderr.splitlines() if line.startswith("· ")]
    assert progress and all(line in verbose.stderr for line in progress[:4])
    details = [line.strip() for line in verbose.stderr.splitlines() if line.startswith("  ")]
    assert any(line.startswith("crashes-at-start: intake took ") for line in details), verbose.stderr
    assert not any(" took " in line for line in normal.stderr.splitlines()), normal.stderr
    assert "crashes-at-start" in verbose.stdout
