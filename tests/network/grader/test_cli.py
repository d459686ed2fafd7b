"""The CLI's contract where a grading runs (local backend, so the package index is needed): the fallback
from an absent engine, and reusing a result. The rest of the contract is tests/unit/grader/test_cli.py.
"""

from __future__ import annotations

from pathlib import Path

from grader.models import GradeResult
from tests.unit.grader.test_cli import FIXTURES, grader, without_docker


def test_auto_falls_back_to_local_with_a_warning(tmp_path: Path) -> None:
    proc = grader("grade", str(FIXTURES / "crashes-at-start"), "--challenge", "hello-api", "--out", str(tmp_path),
                  env=without_docker())
    assert proc.returncode == 0, proc.stderr
    assert "falling back to the local backend" in proc.stderr
    assert "not an isolation boundary" in proc.stderr
    result = GradeResult.model_validate_json((tmp_path / "crashes-at-start" / "result.json").read_text())
    assert result.sandbox is not None and result.sandbox.backend == "local"
    assert result.app is not None and not result.app.started
    assert "exited with code 3" in (result.app.problem or "")
    assert "app did not start" in proc.stdout or "exited with code 3" in proc.stdout


def test_unchanged_submission_reuses_its_result_unless_forced(tmp_path: Path) -> None:
    args = ("grade", str(FIXTURES / "crashes-at-start"), "--challenge", "hello-api", "--sandbox", "local",
            "--out", str(tmp_path), "--format", "json")
    first = grader(*args)
    assert first.returncode == 0, first.stderr
    graded_at = GradeResult.model_validate_json((tmp_path / "crashes-at-start" / "result.json").read_text()).graded_at
    again = grader(*args)
    assert "result reused" in again.stderr
    assert GradeResult.model_validate_json(
        (tmp_path / "crashes-at-start" / "result.json").read_text()).graded_at == graded_at
    forced = grader(*args, "--force")
    assert "result reused" not in forced.stderr and "starting the app" in forced.stderr
