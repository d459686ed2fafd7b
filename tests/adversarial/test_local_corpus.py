"""The corpus on the local backend, where it can run: what it contains, and what it only warns about.

The local backend is not an isolation boundary. Cases it cannot contain on a host (a fork bomb as root,
a disk fill, a filesystem walk, writes everywhere) are not run: each names its reason in EXPECT.toml and
README.md. The cases that run must give the same hidden verdicts as the honest base where the tampering
targets the grader's runner (which never shares a process or interpreter with the app), must be killed
on time, must leave no process behind, and every result must carry the backend's warning.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.challenge import load_challenge
from grader.models import GradeResult
from grader.paths import cache_root
from grader.pipeline import grade_submission
from grader.sandbox.local import LocalSandbox

from .corpus import (
    ADVERSARIAL_LIMITS,
    HONEST_BASE,
    SOLUTIONS,
    Case,
    Substitutions,
    adversarial_challenge,
    build_submission,
    canary_file,
    hidden_verdicts,
    load_cases,
    probe_verdicts,
    processes_with,
    session_cache,
)

pytestmark = pytest.mark.slow

CASES = load_cases()
LOCAL_CASES = [case for case in CASES if case.runs_locally]
LIMITS = ADVERSARIAL_LIMITS


@pytest.fixture(scope="module")
def local_results(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, GradeResult], Substitutions]]:
    with session_cache(tmp_path_factory):
        yield grade_locally(tmp_path_factory.mktemp("adversarial-local"))


def grade_locally(root: Path) -> tuple[dict[str, GradeResult], Substitutions]:
    """Grade every case that runs locally, then the honest base, with the local backend."""
    challenge = load_challenge(str(adversarial_challenge(root, f"HIDDEN-CANARY-{uuid.uuid4().hex}")))
    sandbox = LocalSandbox()
    results: dict[str, GradeResult] = {}
    with canary_file(root) as (canary, _digest):
        subs = Substitutions(host_canary=canary, grader_cache=cache_root())
        sources = [build_submission(case, root / "submissions", subs) for case in LOCAL_CASES]
        for source in [*sources, SOLUTIONS / HONEST_BASE]:
            result = grade_submission(source, challenge, sandbox, root / "out", log=lambda _: None, force=True)
            results[source.name] = result
    return results, subs


def test_every_case_the_local_backend_does_not_run_says_why() -> None:
    for case in CASES:
        assert case.expect.get("local") in ("run", "skip"), case.name
        if case.expect["local"] == "skip":
            assert len(str(case.expect.get("local_reason", ""))) > 20, f"{case.name} needs a local_reason"


@pytest.mark.parametrize("case", LOCAL_CASES, ids=[c.name for c in LOCAL_CASES])
def test_local_case(local_results: tuple[dict[str, GradeResult], Substitutions], case: Case) -> None:
    results, subs = local_results
    result = results[case.name]
    expect = case.expect
    assert result.status == "graded", result.error
    assert result.sandbox is not None and not result.sandbox.isolated
    assert any("not an isolation boundary" in w for w in result.sandbox.warnings), "the local backend always warns"
    app = result.app
    assert app is not None
    assert set(expect.get("local_limits_hit", [])) <= set(app.limits_hit), app.limits_hit
    assert result.sandbox.limits == LIMITS  # the challenge's short limits, not the grader's defaults
    if expect.get("hidden") == "same-as-base":
        assert hidden_verdicts(result) == hidden_verdicts(results[HONEST_BASE])
    probe = expect.get("local_probe", expect.get("probe"))
    if probe:
        ran = {k: v for k, v in probe_verdicts(result).items() if v != "skipped"}
        if probe == "passed":
            assert ran and set(ran.values()) == {"passed"}, ran
        else:  # the boundary the probe looks for is not there locally: at least one of its tests says so
            assert "failed" in ran.values(), ran
    if expect.get("survivor_mark"):
        assert processes_with(f"sleep {subs.run_mark}") == [], "a daemon outlived the grading"
        assert any("left its process group" in w for w in result.sandbox.warnings), result.sandbox.warnings


def test_local_output_flood_is_capped_on_disk(local_results: tuple[dict[str, GradeResult], Substitutions]) -> None:
    app = local_results[0]["stdout-flood"].app
    assert app is not None and app.log_truncated
    assert app.log_cap_bytes == max(LIMITS.data_mb * 1024 * 1024, LIMITS.log_bytes)

