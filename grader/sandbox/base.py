"""The sandbox backend interface: prepare an environment once, then run one grading in it.

A backend never decides scores. It starts the candidate's app with the limits it is given, runs the
grader's test command beside it, and returns what happened.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from grader.checks.static import StaticCheckSpec, Where
from grader.errors import SandboxError
from grader.models import AppRun, Finding, Limits
from grader.sandbox.services import ServiceRequest

if TYPE_CHECKING:
    from grader.resolve import Builder

__all__ = [  # SandboxError is defined in grader.errors (the gateways raise it too) and re-exported here
    "APP_CODE_DIR", "Environment", "EnvironmentRequest", "RunOutcome", "RunPlan", "Sandbox", "SandboxError",
    "StaticJob",
]


@dataclass(frozen=True)
class EnvironmentRequest:
    """What an environment must contain: the candidate's normalized requirements for one Python version."""

    python: str
    requirements: tuple[str, ...]
    wheels_dir: Path | None  # host directory holding every wheel the requirements need


@dataclass
class Environment:
    """A ready environment (an image or a venv) keyed by the hash of its request."""

    backend: str
    key: str
    python: str
    reused: bool
    image: str | None = None
    image_id: str | None = None
    base_image: str | None = None
    venv: Path | None = None
    reason: str = ""  # why it was built or reused, for the log


@dataclass(frozen=True)
class RunPlan:
    """One grading run: the app to start and the grader's test suite to run against it."""

    snapshot: Path  # read-only copy of the submission
    start_command: str  # shell command; $PORT and $DATABASE_URL are set
    app_env: dict[str, str]
    port: int
    health_path: str
    limits: Limits
    tests_dir: Path  # the challenge suite (hidden tests): only the runner sees it
    output_dir: Path  # host dir where the runner's report lands
    pytest_args: tuple[str, ...] = ()
    services: tuple[ServiceRequest, ...] = ()  # started beside the app; their variables join app_env


@dataclass(frozen=True)
class StaticJob:
    """Static checks to run against a snapshot, in the grader's tool environment or the candidate's."""

    snapshot: Path
    checks: tuple[StaticCheckSpec, ...]
    where: Where
    limits: Limits
    output_dir: Path  # host dir where each check's `<id>.json` and `<id>.run.json` land
    app_env: dict[str, str] = field(default_factory=dict)
    services: tuple[ServiceRequest, ...] = ()  # the candidate's own tests get fresh ones too


APP_CODE_DIR = "/app"  # where a container backend mounts the snapshot for the app (its working directory)


@dataclass
class RunOutcome:
    """What a run produced; `report` is the plugin's JSON report path when the suite ran."""

    app: AppRun
    report: Path | None
    runner_log: str = ""
    runner_problem: str | None = None
    tests_seconds: float = 0.0
    findings: list[Finding] = field(default_factory=list)


class Sandbox(abc.ABC):
    """A backend that can prepare environments and run gradings in them."""

    name: str
    isolated: bool
    wheel_target: str  # "linux-container" or "host": the platform wheels are downloaded for
    # Whether several runs may use this object at once (threads): gradings in parallel, and a grading's
    # static checks while its app runs. A backend that relies on Ctrl-C reaching its own thread says no.
    concurrent_runs: bool = False

    @abc.abstractmethod
    def prepare(self, request: EnvironmentRequest) -> Environment:
        """Build or reuse the environment for `request`."""

    @abc.abstractmethod
    def run(self, environment: Environment, plan: RunPlan) -> RunOutcome:
        """Start the app, wait for health, run the suite, and clean up everything it started."""

    @abc.abstractmethod
    def run_static(self, environment: Environment, job: StaticJob) -> None:
        """Run static checks against the snapshot; each check's files land in `job.output_dir`."""

    def prepare_runner(self, request: EnvironmentRequest) -> None:
        """Build the grader-controlled runner, where the backend has one (default: none needed)."""
        return None

    def describe_services(self, services: tuple[ServiceRequest, ...]) -> dict[str, str]:
        """Where each service of a grading comes from (image or URL), for the result; checks it can be had.

        Raises SandboxError, before any grading work, when this backend cannot provide one of them.
        """
        if services:
            raise SandboxError(f"the {self.name} backend cannot start services ({', '.join(s.kind for s in services)})")
        return {}

    def builder(self, limits: Limits) -> Builder | None:
        """What builds source archives into wheels, isolated from the host (None: this backend cannot)."""
        return None

    def describe_image(self) -> str | None:
        """The base image this backend runs on, if any."""
        return None

    def abort(self) -> None:
        """Stop every run in progress now and refuse new ones (Ctrl-C during a batch); default: nothing."""
        return None
