"""The records the grading steps pass along: each step takes the record before it and returns a new one.

    GradingRequest -> Taken -> Intake -> Resolved -> Prepared -> Runs -> Scored -> GradeResult

Every record is frozen and holds the one before it, so the last record a grading reached knows everything
found so far. That is what an error result reports when a later step fails: each record says what the
result can state at that point (`submission`, `sandbox_info`, `timings`; see `Reached`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal, Protocol

from grader.challenge import hidden_tests_dir, public_tests_dir
from grader.checks.registry import HIDDEN_TESTS
from grader.detect import AppSpec
from grader.environments import Declared, WheelSet, challenge_services
from grader.hooks import GradingHooks
from grader.intake import Snapshot, submission_name
from grader.models import (
    PUBLIC_SUITE,
    AppRun,
    CategoryScore,
    Challenge,
    CheckResult,
    CheckRun,
    DependencyRecord,
    Finding,
    SandboxInfo,
    SubmissionInfo,
    Timings,
)
from grader.project import ProjectRoot
from grader.results import result_dir
from grader.sandbox.base import Environments, ImageOutcome, RunOutcome, Sandbox
from grader.sandbox.services import ServiceRequest
from grader.similarity.store import SubmissionPrints

Log = Callable[[str], None]


class GradingError(Exception):
    """The grader could not grade this submission (not the candidate's fault, or unusable input)."""


@dataclass(frozen=True)
class Suite:
    """The challenge suite run against the app: the hidden one (`grade`) or the public one (`check`)."""

    directory: Path
    check_id: str = HIDDEN_TESTS.id


def hidden_suite(challenge: Challenge) -> Suite:
    """The hidden suite, scored as `hidden-tests/<category>`."""
    return Suite(hidden_tests_dir(challenge))


def public_suite(challenge: Challenge) -> Suite:
    """The public suite, scored as `public-tests/<category>` with the same points as hidden tests."""
    return Suite(public_tests_dir(challenge), PUBLIC_SUITE)


@dataclass(frozen=True)
class GradingOptions:
    """How to grade, beyond the challenge: the resolution cutoff (`--resolve-as-of`) and the project's folder
    in the submission (`--root`)."""

    resolve_as_of: datetime | Literal["now"] | None = None
    root: str | None = None


@dataclass(frozen=True)
class GradingRequest:
    """One grading's inputs: what to grade, against which challenge and suite, where, and whom to tell."""

    source: Path
    challenge: Challenge
    sandbox: Sandbox
    out_root: Path  # absolute: backends run tools in other directories and bind-mount it into containers
    suite: Suite
    options: GradingOptions = field(default_factory=GradingOptions)
    hooks: GradingHooks = field(default_factory=GradingHooks)
    log: Log = print
    started: float = field(default_factory=time.monotonic)

    @property
    def name(self) -> str:
        """The output's name: the batch's (it names duplicates apart), else the submission's."""
        return self.hooks.name or submission_name(self.source)

    @property
    def services(self) -> tuple[ServiceRequest, ...]:
        """The services the challenge declares."""
        return challenge_services(self.challenge)

    def output_dir(self) -> Path:
        """`out_root/<name>`, created on demand (a full or read-only disk raises OutputError)."""
        return result_dir(self.out_root, self.name)


class Reached(Protocol):
    """A record a grading reached: what its result can say so far (also when a later step fails)."""

    def submission(self, request: GradingRequest) -> SubmissionInfo:
        """The submission as known at this point."""
        ...

    def sandbox_info(self) -> SandboxInfo | None:
        """The sandbox as known at this point (None before the environment is ready)."""
        ...

    def timings(self) -> Timings:
        """The time each step took so far (`total_s` is added by the result)."""
        ...


@dataclass(frozen=True)
class Taken:
    """The submission's read-only snapshot, before its project is read."""

    snapshot: Snapshot
    started: float  # when intake started (monotonic)
    fingerprints: SubmissionPrints | None = None  # its Python code's, for the cohort's similarity (None: unreadable)

    def submission(self, request: GradingRequest) -> SubmissionInfo:
        """Its name, source and content only."""
        snapshot = self.snapshot
        return SubmissionInfo(
            name=request.name, source=str(request.source), source_kind=snapshot.source_kind,
            content_hash=snapshot.content_hash, file_count=snapshot.file_count, framework=None,
            start_command=None, start_command_source=None,
        )

    def sandbox_info(self) -> SandboxInfo | None:
        """Not chosen yet."""
        return None

    def timings(self) -> Timings:
        """Nothing finished yet."""
        return Timings()


@dataclass(frozen=True)
class Intake:
    """The snapshot read: the project's folder, its declared dependencies, how to start the app, findings."""

    taken: Taken
    project: ProjectRoot
    declared: Declared
    app_spec: AppSpec
    findings: tuple[Finding, ...]  # about the submission's files, paths relative to the submission
    seconds: float

    @property
    def snapshot(self) -> Snapshot:
        """The submission's snapshot."""
        return self.taken.snapshot

    @property
    def project_dir(self) -> Path:
        """The Python project's folder in the snapshot (the snapshot itself, or a monorepo's subfolder)."""
        return self.project.path(self.snapshot.path)

    def submission(self, request: GradingRequest) -> SubmissionInfo:
        """With the framework, the start command, the requirements and the intake's findings."""
        spec = self.app_spec
        return self.taken.submission(request).model_copy(update={
            "framework": spec.framework, "start_command": spec.start_command, "start_command_source": spec.source,
            "worker_command": spec.worker_command, "worker_command_source": spec.worker_source,
            "requirements": list(self.declared.main.requirements), "project_root": self.project.rel,
            "findings": list(self.findings),
        })

    def sandbox_info(self) -> SandboxInfo | None:
        """Not chosen yet."""
        return None

    def timings(self) -> Timings:
        """The intake's."""
        return Timings(intake_s=self.seconds)


@dataclass(frozen=True)
class Resolved:
    """The exact versions of the submission's dependencies, and their wheels on the host."""

    intake: Intake
    wheels: WheelSet
    dependencies: DependencyRecord
    seconds: float

    def submission(self, request: GradingRequest) -> SubmissionInfo:
        """With the resolved dependencies and what the resolver found."""
        known = self.intake.submission(request)
        return known.model_copy(update={
            "dependencies": self.dependencies,
            "findings": [*known.findings, *self.wheels.resolution.findings],
        })

    def sandbox_info(self) -> SandboxInfo | None:
        """Not ready yet."""
        return None

    def timings(self) -> Timings:
        """The intake's and the resolution's (resolving and downloading apart)."""
        return self.intake.timings().model_copy(update={
            "environment_s": self.seconds, "resolve_s": self.wheels.resolve_s, "download_s": self.wheels.download_s,
        })


@dataclass(frozen=True)
class Prepared:
    """The environments ready (runner and candidate's) and the sandbox described for the result."""

    resolved: Resolved
    environments: Environments
    sandbox: SandboxInfo
    seconds: float

    @property
    def intake(self) -> Intake:
        """The intake's record."""
        return self.resolved.intake

    def submission(self, request: GradingRequest) -> SubmissionInfo:
        """As resolved."""
        return self.resolved.submission(request)

    def sandbox_info(self) -> SandboxInfo | None:
        """The backend, its environment and its limits."""
        return self.sandbox

    def timings(self) -> Timings:
        """With the environment's time: resolution and building (or finding) the environments."""
        resolved = self.resolved.timings()
        return resolved.model_copy(update={"environment_s": round(resolved.environment_s + self.seconds, 3),
                                           "build_s": round(self.seconds, 3)})


@dataclass(frozen=True)
class Runs:
    """What the sandboxed runs produced: the static checks' runs, and the app's run with the suite beside it."""

    prepared: Prepared
    static: tuple[CheckRun, ...]
    static_seconds: float
    outcome: RunOutcome | None  # None: there was no start command, so the app was not started
    app: AppRun  # what happened to the app, with why it never became ready (or was never started)
    image: ImageOutcome | None = None  # the candidate's Dockerfile (challenge `[docker] build`), else None

    @property
    def intake(self) -> Intake:
        """The intake's record."""
        return self.prepared.intake

    def submission(self, request: GradingRequest) -> SubmissionInfo:
        """As resolved."""
        return self.prepared.submission(request)

    def sandbox_info(self) -> SandboxInfo | None:
        """With what the backend said about its own boundary during the run (never dropped)."""
        info = self.prepared.sandbox
        said = [f.message for f in self.outcome.findings] if self.outcome else []
        warnings = list(info.warnings)
        warnings.extend(message for message in dict.fromkeys(said) if message not in warnings)
        return info.model_copy(update={"warnings": warnings})

    def timings(self) -> Timings:
        """With the static checks', the app's start-up and the suite's times."""
        app_start = (self.outcome.app.start_seconds or 0.0) if self.outcome else 0.0
        tests = self.outcome.tests_seconds if self.outcome else 0.0
        return self.prepared.timings().model_copy(update={
            "static_s": self.static_seconds, "app_start_s": app_start, "tests_s": tests,
        })


@dataclass(frozen=True)
class Scored:
    """Every result scored, and the categories and overall score they make."""

    runs: Runs
    checks: tuple[CheckResult, ...]
    categories: tuple[CategoryScore, ...]
    overall: float | None
    evaluated_weight: float
