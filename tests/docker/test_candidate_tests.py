"""A Django submission whose own tests run with `manage.py test`, graded end to end in Docker.

pytest collects nothing from `shelf/tests.py` (not a `test_*.py` name), so before the candidate's runner
was chosen from the project's files this submission had "no tests found" and no testing points for them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from grader.challenge import load_challenge
from grader.pipeline import grade_submission
from grader.sandbox.docker import DockerSandbox
from grader.sandbox.docker_pod import SESSION_LABEL
from tests.conftest import REPO_ROOT
from tests.network.test_end_to_end import SCHEMA

SUBMISSION = REPO_ROOT / "tests" / "fixtures" / "candidate_tests" / "django-manage"
pytestmark = [pytest.mark.docker, pytest.mark.slow]


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory, docker_client: Any) -> dict[str, Any]:
    """result.json of the fixture graded against hello-api in Docker; nothing of this grading is left behind."""
    out = tmp_path_factory.mktemp("django-manage-results")
    challenge = load_challenge("hello-api")
    sandbox = DockerSandbox(python=challenge.python, client=docker_client)
    grade_submission(SUBMISSION, challenge, sandbox, out, log=lambda _: None)
    session = {"label": f"{SESSION_LABEL}={sandbox.session}"}
    left = [c.name for c in docker_client.containers.list(all=True, filters=session)]
    left += [v.name for v in docker_client.volumes.list(filters=session)]
    assert not left, f"left behind: {left}"
    result: dict[str, Any] = json.loads((out / "django-manage" / "result.json").read_text())
    return result


def test_own_tests_found_run_and_covered(graded: dict[str, Any]) -> None:
    jsonschema.validate(graded, SCHEMA)
    assert graded["status"] == "graded", graded.get("error")
    assert graded["sandbox"]["backend"] == "docker" and graded["submission"]["framework"] == "django"
    [own] = [check for check in graded["checks"] if check["id"] == "candidate_tests/testing"]
    assert own["status"] in ("passed", "failed")
    metrics = own["metrics"]
    assert (metrics["tests_found"], metrics.get("pass_rate")) == (3, round(100 * 2 / 3, 2))
    assert 60 < metrics["coverage_percent"] < 100 and metrics["http_tests"] == 1
    by_rule = {finding["rule"]: finding for finding in own["findings"]}
    assert by_rule["test-runner"]["message"].startswith("tests run with `python manage.py test`")
    failed = by_rule["test-failed"]
    assert (failed["file"], failed["line"]) == ("shelf/tests.py", 11)
    assert "test_partial_minutes_round_up" in failed["message"]
    lost = {d["rule"]: d for d in own["deductions"]}
    assert "candidate_tests.coverage_percent" not in lost or lost["candidate_tests.coverage_percent"]["points"] < 30
    assert lost["candidate_tests.pass_rate"]["evidence"][0]["file"] == "shelf/tests.py"
    assert not any("tests_found = 0" in d["reason"] for d in own["deductions"])


def test_report_names_the_runner(graded: dict[str, Any], tmp_path: Path) -> None:
    """`grader report` renders the runner line in the candidate's-tests section."""
    source = tmp_path / "result.json"
    source.write_text(json.dumps(graded))
    proc = subprocess.run([sys.executable, "-m", "grader", "report", str(source), "--out", str(tmp_path / "r"),
                           "--format", "html,md"], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    html = next((tmp_path / "r").rglob("report.html")).read_text()
    assert "python manage.py test" in html


SUBMISSIONS = REPO_ROOT / "tests" / "fixtures" / "submissions"


@pytest.mark.parametrize(("fixture", "runner"), [
    ("tests-write-in-repo", "tests run with `pytest`"),  # its tests keep a SQLite file in the repository
    ("unittest-nested-tests", "tests run with `python -m unittest discover; cd service && python -m unittest"),
])
def test_own_tests_that_the_read_only_mount_or_discovery_used_to_miss(
    fixture: str, runner: str, tmp_path: Path, docker_client: Any,
) -> None:
    """In the sandbox the submission is mounted read-only: the suite runs in a writable copy on its /tmp, and
    a test folder that is no package is discovered from its parent. (No app: the static checks still run.)"""
    challenge = load_challenge("hello-api")
    sandbox = DockerSandbox(python=challenge.python, client=docker_client)
    result = grade_submission(SUBMISSIONS / fixture, challenge, sandbox, tmp_path, log=lambda _: None, force=True)
    session = {"label": f"{SESSION_LABEL}={sandbox.session}"}
    assert not docker_client.containers.list(all=True, filters=session)
    own = next(check for check in result.checks if check.id == "candidate_tests/testing")
    assert (own.metrics["tests_found"], own.metrics["pass_rate"], own.metrics["coverage_percent"]) == (2, 100, 100)
    assert any(finding.message.startswith(runner) for finding in own.findings if finding.rule == "test-runner")


UPSTREAM_CHALLENGE = REPO_ROOT / "tests" / "fixtures" / "upstream-own-tests-challenge"
OWN_TESTS = REPO_ROOT / "tests" / "fixtures" / "candidate_tests"


@pytest.mark.parametrize(("fixture", "named"), [
    ("upstream-called", {"tests.test_safety.test_a_safe_url_is_accepted", "tests.test_safety.test_the_service_is_up"}),
    ("upstream-mocked", set()),
])
def test_own_tests_that_call_the_challenges_upstream_lose_the_mocks_rule_with_their_names(
    fixture: str, named: set[str], tmp_path: Path, docker_client: Any,
) -> None:
    """`{upstream_port}` in the challenge's env: in the candidate's container nothing serves it; the tests that
    called it are the mocks rule's evidence, the tests that mocked it pass and keep its points."""
    challenge = load_challenge(str(UPSTREAM_CHALLENGE))
    sandbox = DockerSandbox(python=challenge.python, client=docker_client)
    result = grade_submission(OWN_TESTS / fixture, challenge, sandbox, tmp_path, log=lambda _: None, force=True)
    session = {"label": f"{SESSION_LABEL}={sandbox.session}"}
    assert not docker_client.containers.list(all=True, filters=session)
    own = next(check for check in result.checks if check.id == "candidate_tests/testing")
    callers = {f.message.split("`")[1] for f in own.findings if f.rule == "calls-real-upstream"}
    assert callers == named, own.findings
    assert all("http://127.0.0.1:18080" in f.message for f in own.findings if f.rule == "calls-real-upstream")
    mocks = next((d for d in own.deductions if d.rule == "candidate_tests.mocks_used"), None)
    if named:
        assert mocks is not None and mocks.points == 5
        assert {e.message.split("`")[1] for e in mocks.evidence if e.rule == "calls-real-upstream"} == named
    else:
        assert mocks is None and own.metrics["tests_found"] == 3 and own.metrics["pass_rate"] == 100
