"""The candidate's Dockerfile without an engine: the setting, the local backend's skip, the result worth no
points, the build context, and which images of a build the grader may remove. On the engine for real:
tests/docker/grader/sandbox/test_candidate_image.py.
"""

from __future__ import annotations

import io
import os
import tarfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any

import pytest

from grader.challenge import load_challenge
from grader.models import CategoryScore, Limits
from grader.sandbox import candidate_image
from grader.sandbox.base import Environments, ImageJob, ImageOutcome
from grader.sandbox.images.building import BuildFailed
from grader.sandbox.local import LocalSandbox
from grader.scoring import score_categories
from grader.steps.scoring import image_results
from tests.conftest import REPO_ROOT
from tests.factories import graded_result

CHALLENGE_DIR = REPO_ROOT / "tests" / "fixtures" / "dockerfile-challenge"


def test_the_challenge_asks_for_the_build_in_its_docker_table(tmp_path: Path) -> None:
    assert load_challenge(str(CHALLENGE_DIR)).docker.build is True
    assert load_challenge("hello-api").docker.build is False  # off unless asked
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "hidden").mkdir()
    (bundle / "hidden" / "test_x.py").write_text("def test_x():\n    pass\n")
    (bundle / "challenge.toml").write_text('id = "x"\ntitle = "x"\n\n[docker]\nbiuld = true\n')
    with pytest.raises(Exception, match="biuld"):
        load_challenge(str(bundle))


def job(project: Path) -> ImageJob:
    return ImageJob(project_dir=project, environments=Environments(None, None),  # type: ignore[arg-type]
                    port=8000, health_path="/health", app_env={}, limits=Limits())


def test_the_local_backend_builds_no_image_and_says_so(tmp_path: Path) -> None:
    outcome = LocalSandbox().build_candidate_image(job(tmp_path))
    assert outcome == ImageOutcome("skipped", "not built: the local backend builds no images (use --sandbox docker)")


@pytest.mark.parametrize(("outcome", "severity"), [
    (ImageOutcome("passed", "built; its container started and answered /health"), "info"),
    (ImageOutcome("failed", "the Dockerfile did not build (the step exited with code 3).", "exit 3"), "warning"),
    (ImageOutcome("skipped", "not built: base image unavailable (Step 1/4 : FROM python:3.11-slim: denied)"), "info"),
])
def test_the_dockerfiles_outcome_is_an_infrastructure_finding_worth_no_points(
    outcome: ImageOutcome, severity: str
) -> None:
    [result] = image_results(outcome)
    assert (result.id, result.category, result.status, result.score, result.max_score) == (
        "docker_build/infrastructure", "infrastructure", outcome.status, 0, 0)
    assert (result.findings[0].message, result.findings[0].severity) == (outcome.summary, severity)
    graded = graded_result()
    weights = {"infrastructure": 50, "api_design": 50}
    before = score_categories(graded.checks, weights)
    after = score_categories([*graded.checks, result], weights)
    assert scores(after) == scores(before)


def scores(scored: tuple[list[CategoryScore], float | None, float]) -> tuple[object, ...]:
    """Each category's score and the overall, without the list of checks a category was read from."""
    categories, overall, evaluated = scored
    return tuple((c.id, c.score, c.evaluated, c.note) for c in categories), overall, evaluated


def test_no_result_when_the_challenge_does_not_ask() -> None:
    assert image_results(None) == ()


# --- the build context ------------------------------------------------------------------------------------


def test_the_context_is_the_project_with_links_kept_and_version_control_left_out(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "pkg").mkdir(parents=True)
    (project / ".git").mkdir()
    (project / ".git" / "config").write_text("[core]\n")
    (project / "Dockerfile").write_text("FROM scratch\n")
    (project / "pkg" / "app.py").write_text("print('hi')\n")
    os.symlink("/etc/passwd", project / "pkg" / "passwd")  # a link out of the project stays a link
    with candidate_image._context(project) as context, tarfile.open(fileobj=context) as archive:
        members = {member.name: member for member in archive.getmembers()}
    assert set(members) == {"Dockerfile", "pkg", "pkg/app.py", "pkg/passwd"}
    assert members["pkg/passwd"].issym() and members["pkg/passwd"].linkname == "/etc/passwd"
    assert all(member.uid == 0 for member in members.values())


def test_a_context_over_the_limit_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(candidate_image, "CONTEXT_LIMIT_BYTES", 10)
    (tmp_path / "big.bin").write_bytes(b"x" * 11)
    with pytest.raises(candidate_image.ContextTooLarge), candidate_image._context(tmp_path):
        pass


# --- which images a build made (only those may be removed) ------------------------------------------------


class ScriptedEngine:
    """Stands in for the engine's build stream with what the classic builder prints (the real builds:
    tests/docker/grader/sandbox/test_candidate_image.py)."""

    def __init__(self, lines: list[str], error: str | None = None) -> None:
        self.lines, self.error = lines, error
        self.kwargs: dict[str, Any] = {}

    def build(self, context: IO[bytes], **kwargs: Any) -> Iterator[Mapping[str, Any]]:
        self.kwargs = kwargs
        for line in self.lines:
            yield {"stream": line + "\n"}
        if self.error:
            yield {"error": self.error}

    def image(self, reference: str) -> object:
        return object()


def test_only_the_images_the_build_made_are_its_own_never_the_base_or_cached_ones() -> None:
    engine = ScriptedEngine([
        "Step 1/4 : FROM grader-base:py3.11", " ---> 1111111111aa",
        "Step 2/4 : WORKDIR /srv", " ---> Using cache", " ---> 2222222222bb",
        "Step 3/4 : RUN make", " ---> Running in 9999999999ff", "built", " ---> 3333333333cc",
        "Step 4/4 : CMD [\"python\", \"app.py\"]", " ---> Running in 8888888888ee", " ---> 4444444444dd",
    ])
    layers: list[str] = []
    candidate_image.run_candidate_build(engine, io.BytesIO(), "grader-candidate:x", {"grader.run": "x"}, 256,  # type: ignore[arg-type]
                                        layers, lambda _: None)
    assert layers == ["3333333333cc", "4444444444dd"]
    assert (engine.kwargs["network_mode"], engine.kwargs["pull"], engine.kwargs["memory_mb"]) == ("none", False, 256)
    assert engine.kwargs["labels"] == {"grader.run": "x"}


def test_a_build_that_dies_at_its_from_step_is_a_missing_base_image() -> None:
    engine = ScriptedEngine(["Step 1/4 : FROM python:3.11-slim"], error="pull access denied for python")
    with pytest.raises(BuildFailed) as failed:
        candidate_image.run_candidate_build(engine, io.BytesIO(), "t", {}, 256, [], lambda _: None)  # type: ignore[arg-type]
    assert failed.value.at_from
