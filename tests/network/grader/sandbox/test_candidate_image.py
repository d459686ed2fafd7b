"""The candidate's Dockerfile with the local backend, a whole grading: no engine, so the build is skipped and
says so, worth no points. The Docker backend builds it: tests/docker/grader/sandbox/test_candidate_image.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.challenge import load_challenge
from grader.models import CheckResult, GradeResult
from grader.pipeline import grade_submission
from grader.sandbox.local import LocalSandbox
from grader.scoring import score_categories
from tests.conftest import REPO_ROOT

CHALLENGE = load_challenge(str(REPO_ROOT / "tests" / "fixtures" / "dockerfile-challenge"))
SUBMISSIONS = REPO_ROOT / "tests" / "fixtures" / "submissions"
pytestmark = pytest.mark.slow


def image_result(result: GradeResult) -> CheckResult:
    """The Dockerfile's result, after checking it is worth no points: the scores are those without it."""
    assert result.status == "graded", result.error
    [image] = [check for check in result.checks if check.id == "docker_build/infrastructure"]
    assert (image.category, image.score, image.max_score, image.deductions) == ("infrastructure", 0, 0, [])
    others = [check for check in result.checks if check is not image]
    categories, overall, _ = score_categories(others, CHALLENGE.scorecard, app_ran=result.app is not None
                                              and result.app.started)
    assert overall == result.overall
    assert [(c.id, c.score, c.note) for c in categories] == [(c.id, c.score, c.note) for c in result.categories]
    return image


def test_the_local_backend_skips_the_dockerfile_and_says_why(tmp_path: Path) -> None:
    result = grade_submission(SUBMISSIONS / "dockerfile-local-base", CHALLENGE, LocalSandbox(), tmp_path,
                              log=lambda _: None, force=True)
    image = image_result(result)
    assert (image.status, image.summary) == ("skipped",
                                             "not built: the local backend builds no images (use --sandbox docker)")
    assert all(check.status == "passed" for check in result.checks if check.id.startswith("hidden-tests/"))
