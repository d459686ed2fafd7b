"""The benchmark's inputs: the bundled solutions, their dependencies resolved as the grader does, and
cohorts of varied copies for the bulk runs."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from checks._common import is_app_path, python_files
from grader.environments import WheelSet, candidate_request, prepare_wheels, sandbox_target
from grader.models import Challenge
from grader.resolve import ResolveRequest
from grader.sandbox.base import Sandbox
from grader.steps.intake import read_project, take
from grader.steps.records import GradingRequest, hidden_suite
from grader.toolchain import runner_request

REPO_ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = REPO_ROOT / "challenges" / "hello-api" / "solutions"
# 20 submissions over 3 dependency sets (FastAPI, Flask, Django), as in the bulk target.
BULK_MIX = (("fastapi-ref", 7), ("flask-ref", 7), ("django-ref", 6))


@dataclass(frozen=True)
class Prepared:
    """One solution as the grader sees it after intake, with its wheels for a container and for the host."""

    name: str
    source: Path
    snapshot: Path
    start_command: str | None
    app_files: tuple[str, ...]
    env_request: ResolveRequest
    env_wheels: WheelSet
    runner_wheels: WheelSet

    def host_wheels(self, python: str) -> WheelSet:
        """The same requirements for this machine (the bare-tools venv)."""
        host = ResolveRequest(self.env_request.main, self.env_request.test, self.env_request.tools,
                              self.env_request.lock, sandbox_target(python, "host"), self.env_request.as_of)
        return prepare_wheels(host, None, _quiet)


def _quiet(_: str) -> None:
    pass


def solution_names() -> list[str]:
    """The bundled hello-api solutions, sorted."""
    return sorted(path.name for path in SOLUTIONS.iterdir() if path.is_dir())


def prepare(name: str, challenge: Challenge, sandbox: Sandbox) -> Prepared:
    """Intake and wheel resolution exactly as the grading steps do them."""
    grading = GradingRequest(source=SOLUTIONS / name, challenge=challenge, sandbox=sandbox,
                             out_root=Path("/nonexistent"), suite=hidden_suite(challenge), log=_quiet)
    intake = read_project(grading, take(grading))
    target = sandbox_target(challenge.python, "linux-container")
    request = candidate_request(intake.declared, target)
    env_wheels = prepare_wheels(request, sandbox.builder(challenge.limits), _quiet)
    runner_wheels = prepare_wheels(runner_request(target), None, _quiet)
    app_files = tuple(item.rel for item in python_files(intake.snapshot.path) if is_app_path(item.rel))
    return Prepared(name, SOLUTIONS / name, intake.snapshot.path, intake.app_spec.start_command, app_files,
                    request, env_wheels, runner_wheels)


def make_cohort(dest: Path, mix: tuple[tuple[str, int], ...] = BULK_MIX) -> list[Path]:
    """Copies of the solutions, each with a comment of its own (so no two are the same submission)."""
    dest.mkdir(parents=True)
    made = []
    for name, copies in mix:
        for number in range(1, copies + 1):
            target = dest / f"{name}-{number:02d}"
            shutil.copytree(SOLUTIONS / name, target)
            first = sorted(target.rglob("*.py"))[0]
            first.write_text(first.read_text() + f"\n# benchmark copy {number}\n")
            made.append(target)
    return made


def writable_copy(snapshot: Path, dest: Path) -> Path:
    """A writable copy of a read-only snapshot (tools may write caches next to the code)."""
    shutil.copytree(snapshot, dest)
    for path in [dest, *dest.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return dest
