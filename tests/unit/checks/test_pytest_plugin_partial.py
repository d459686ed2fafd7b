"""The plugin's report survives a runner killed at the suite's time limit: pessimistic until each test ends."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from checks.pytest_plugin import UNFINISHED
from grader.checks.registry import HIDDEN_TESTS
from grader.checks.spec import CheckContext, CheckOutput

SUITE = '''
import time
import pytest

@pytest.mark.category("api_design")
def test_quick():
    pass

@pytest.mark.category("api_design")
def test_hangs():
    time.sleep(60)

@pytest.mark.category("databases")
def test_never_reached():
    pass
'''


def test_a_killed_suite_leaves_every_verdict_reached_and_fails_the_rest(tmp_path: Path) -> None:
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "test_suite.py").write_text(SUITE)
    out = tmp_path / "out"
    out.mkdir()
    argv = HIDDEN_TESTS.command(CheckContext(str(suite), str(out), sys.executable, app_url="http://127.0.0.1:9"))
    proc = subprocess.Popen(argv, cwd=tmp_path, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    report = out / "hidden.json"
    deadline = time.monotonic() + 300  # an event: a second idle; the deadline only bounds a hang under load
    while time.monotonic() < deadline:  # until test_quick's verdict is on disk
        if report.exists() and any(t["outcome"] == "passed" for t in json.loads(report.read_text())["tests"]):
            break
        time.sleep(0.1)
    proc.kill()
    proc.wait()

    payload = json.loads(report.read_text())
    assert payload["finished"] is False
    outcomes = {t["name"]: (t["outcome"], t["message"]) for t in payload["tests"]}
    assert outcomes == {"test_quick": ("passed", None), "test_hangs": ("failed", UNFINISHED),
                        "test_never_reached": ("failed", UNFINISHED)}
    results = {r.category: r for r in HIDDEN_TESTS.parse(CheckOutput(out, None, ""))}
    assert (results["api_design"].score, results["api_design"].max_score) == (1, 2)
    assert (results["databases"].score, results["databases"].max_score) == (0, 1)


def test_a_finished_suite_says_so(tmp_path: Path) -> None:
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "test_ok.py").write_text('import pytest\n\n\n@pytest.mark.category("api_design")\ndef test_ok():\n'
                                      "    pass\n")
    out = tmp_path / "out"
    out.mkdir()
    argv = HIDDEN_TESTS.command(CheckContext(str(suite), str(out), sys.executable, app_url="http://127.0.0.1:9"))
    subprocess.run(argv, cwd=tmp_path, capture_output=True, check=True)
    payload = json.loads((out / "hidden.json").read_text())
    assert payload["finished"] is True and payload["exit_status"] == 0
    assert [t["outcome"] for t in payload["tests"]] == ["passed"]
