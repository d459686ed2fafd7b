"""`grader check` runs the public suite in the Docker sandbox; the same command on the local backend and from
an exported kit is tests/network/grader/test_check_command.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.grader.test_check_command import HELLO_ROOT, grader, read_result


@pytest.mark.slow
@pytest.mark.docker
def test_check_runs_the_public_suite_in_docker(tmp_path: Path, docker_client: object) -> None:
    proc = grader("check", str(HELLO_ROOT / "starter"), "--challenge", "hello-api", "--sandbox", "docker",
                  "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "public tests 1/4 passed" in proc.stdout
    # no engine build lines on the candidate's terminal; the last line is the HTML report it wrote
    for noise in ("Step ", "Successfully installed"):
        assert noise not in proc.stderr and noise not in proc.stdout
    report = tmp_path / "starter" / "report.html"
    assert proc.stdout.strip().splitlines()[-1] == f"Report: {report}"
    page = report.read_text()
    assert "Candidate feedback" in page and "Public tests" in page
    result = read_result(tmp_path / "starter" / "result.json")
    assert result.sandbox is not None and result.sandbox.backend == "docker" and result.sandbox.isolated
