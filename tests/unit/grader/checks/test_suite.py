"""The suite's command runs the challenge's tests and nothing around them: a suite kept inside another
project (a challenge in a monorepo, the grader's own test fixtures) must not load that project's ini files or
`conftest.py`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from grader.checks.spec import CheckContext, CheckOutput
from grader.checks.suite import REPORT_NAME, SuiteCheckSpec
from tests.conftest import REPO_ROOT

OUTER_CONFTEST = 'raise RuntimeError("the project around the suite was loaded")\n'
OUTER_INI = "[pytest]\naddopts = --no-such-option\n"
SUITE_TEST = '''import pytest


@pytest.mark.category("api_design")
def test_runs() -> None:
    assert True
'''


def test_a_suite_inside_another_project_loads_nothing_of_that_project(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text(OUTER_CONFTEST)
    (tmp_path / "pytest.ini").write_text(OUTER_INI)
    suite, out = tmp_path / "challenge" / "hidden", tmp_path / "out"
    suite.mkdir(parents=True)
    out.mkdir()
    (suite / "test_suite.py").write_text(SUITE_TEST)
    spec = SuiteCheckSpec()
    argv = spec.command(CheckContext(str(suite), str(out), sys.executable, "http://127.0.0.1:9"))
    ran = subprocess.run(argv, capture_output=True, text=True, timeout=300, cwd=tmp_path,
                         env={"PYTHONPATH": str(REPO_ROOT), "PATH": "/usr/bin:/bin"})
    assert ran.returncode == 0, ran.stdout + ran.stderr
    report = json.loads((out / REPORT_NAME).read_text())
    assert [(t["name"], t["outcome"]) for t in report["tests"]] == [("test_runs", "passed")]
    [result] = spec.parse(CheckOutput(out, ran.returncode, ran.stdout))
    assert result.summary == "1/1 hidden tests passed"
