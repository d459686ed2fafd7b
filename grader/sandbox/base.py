"""The sandbox backend interface: build environments, then run ready requests in them.

A backend decides nothing about scores, about which environments a grading needs or about the commands it
runs. `grader.environments` decides what to build, keys it and says why it was built or reused; the backend
builds or reuses one environment on its foundation (`build`). The runs step (`grader.steps.runs`) builds
every command from the check registry (`AppRunRequest`, `StaticJob`): the backend starts them with the limits
it is given, cleans up everything it started and says what happened (`RunOutcome`).
"""

from __future__ import annotations

import abc
import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from checks.formats import POD_OTLP_PORT, POD_UPSTREAM_PORT, REPLICA_URLS_ENV
from grader.checks.spec import CheckContext, RunsIn
from grader.checks.static import PlannedCheck, Where
from grader.errors import SandboxError
from grader.models import AppRun, Finding, Limits
from grader.sandbox.services import KINDS, ServiceRequest

if TYPE_CHECKING:
    from grader.resolve import Builder

__all__ = [  # SandboxError is defined in grader.errors (the gateways raise it too) and re-exported here
    "APP_CODE_DIR", "AppRunRequest", "Environment", "EnvironmentRequest", "Environments", "Foundation",
    "ImageJob", "ImageOutcome", "Role", "RunOutcome", "Sandbox", "SandboxError", "StaticJob", "loopback_url",
    "replica_runner_env",
]

Role = Literal["env", "runner"]  # the candidate's requirements, or the grader's own tools
POD_REPLICA_FIRST_PORT = 18001  # replicas listen from here in a pod (`Sandbox.replica_ports`)
# What else listens in a pod: the runner's OTLP receiver and fake upstream, the services.
POD_PORTS = frozenset({POD_OTLP_PORT, POD_UPSTREAM_PORT, *(kind.port for kind in KINDS.values())})


@dataclass(frozen=True)
class Foundation:
    """What a backend builds every environment on: a base image (Docker) or an interpreter (local)."""

    kind: Literal["image", "interpreter"]
    name: str  # the base image's tag, or the interpreter's path
    identity: str  # the base image's id, or the interpreter's major.minor: part of every environment's key
    python: str  # the interpreter's major.minor (local); the Python the base image was asked for (Docker)


@dataclass(frozen=True)
class EnvironmentRequest:
    """One environment to build or reuse, decided and keyed by `grader.environments`."""

    role: Role
    key: str  # names the environment in the store: equal keys, equal environments
    python: str  # the Python version the challenge asks for
    requirements: tuple[str, ...]  # exact pins, installed with no network
    wheels_dir: Path | None  # host directory holding every wheel the requirements need


@dataclass(frozen=True)
class Environment:
    """A ready environment (an image or a venv) and whether this grading built it or found it."""

    backend: str
    key: str
    python: str
    reused: bool
    image: str | None = None
    image_id: str | None = None
    base_image: str | None = None
    venv: Path | None = None
    repaired: bool = False  # an unfinished earlier build of this key was found and built again
    mypy_seed: Path | None = None  # the runner's warm mypy cache of the standard library (Docker)


@dataclass(frozen=True)
class Environments:
    """A grading's environments: the candidate's, and the runner of the grader's tools (None: the
    backend runs them with the grader's own interpreter)."""

    candidate: Environment
    runner: Environment | None


def loopback_url(port: int) -> str:
    """The base URL of an app listening on `port` of the loopback the runner shares with it."""
    return f"http://127.0.0.1:{port}"


def replica_runner_env(request: AppRunRequest) -> dict[str, str]:
    """The runner's variable naming the replicas its round-robin proxy serves; nothing with one replica."""
    if not request.replica_ports:
        return {}
    return {REPLICA_URLS_ENV: ",".join(request.replica_urls)}


@dataclass(frozen=True)
class AppRunRequest:
    """One run of the app with the challenge suite beside it, every command ready."""

    environments: Environments
    snapshot: Path  # read-only copy of the submission (the project's folder)
    start_command: str  # shell command; $PORT and $DATABASE_URL are set
    app_env: Mapping[str, str]
    port: int  # the app's port, as the sandbox sees it (`Sandbox.app_port`)
    health_path: str
    wait_argv: tuple[str, ...]  # waits in the runner until the health path answers (exit 0), else fails
    suite_argv: tuple[str, ...]  # the challenge suite's pytest command, paths as the runner sees them
    limits: Limits
    tests_dir: Path  # the challenge suite (hidden tests): only the runner sees it
    output_dir: Path  # host dir where the suite's report lands
    services: tuple[ServiceRequest, ...] = ()  # started beside the app; their variables join app_env
    # The submission's background worker: started with the app (same environment, data dir and limits),
    # restarted and stopped with it. None: the submission declares none.
    worker_command: str | None = None
    # `[app] replicas` > 1: each replica's port (`Sandbox.replica_ports`), every one on the same data dir and
    # services; `port` is then the runner's round-robin proxy. Empty with one replica: the app is on `port`.
    replica_ports: tuple[int, ...] = ()

    @property
    def replicas(self) -> int:
        """How many app processes run (1 without `replica_ports`)."""
        return max(1, len(self.replica_ports))

    @property
    def replica_urls(self) -> list[str]:
        """Each replica's base URL on the loopback (empty with one replica)."""
        return [loopback_url(port) for port in self.replica_ports]

    @property
    def app_url(self) -> str:
        """The app's base URL on the loopback it shares with the runner."""
        return loopback_url(self.port)

    @property
    def health_url(self) -> str:
        """The app's health path, as the runner reaches it."""
        return self.app_url + self.health_path


@dataclass(frozen=True)
class StaticJob:
    """Static checks to run against a snapshot in one sandboxed run, their plan and its command ready."""

    environments: Environments
    where: Where  # the grader's tool environment, or the candidate's own
    snapshot: Path
    plan: tuple[PlannedCheck, ...]  # each check's argv and timeout, as the sandbox sees the paths
    argv: tuple[str, ...]  # runs the plan (`checks.run_plan`)
    timeout_s: float  # the whole plan's wall time
    limits: Limits
    output_dir: Path  # host dir where each check's `<id>.json` and `<id>.run.json` land
    app_env: Mapping[str, str]
    services: tuple[ServiceRequest, ...] = ()  # the candidate's own tests get fresh ones too

    @property
    def reports(self) -> frozenset[str]:
        """The only files that may leave the sandbox: each planned check's report and run record."""
        return frozenset(name for check in self.plan for name in check.files)


APP_CODE_DIR = "/app"  # where a container backend mounts the snapshot for the app (its working directory)


@dataclass(frozen=True)
class RunOutcome:
    """What a run produced; `report` is the plugin's JSON report path when the suite ran."""

    app: AppRun
    report: Path | None
    runner_log: str = ""
    runner_problem: str | None = None
    tests_seconds: float = 0.0
    findings: tuple[Finding, ...] = ()


@dataclass(frozen=True)
class ImageJob:
    """The candidate's own Dockerfile to build, and how its container is checked: started with the app's
    environment and limits, its health path asked until the start-up timeout (challenge `[docker] build`)."""

    project_dir: Path  # the build context: the project's folder of the read-only snapshot, its Dockerfile at the top
    environments: Environments  # the runner's image asks the health path
    port: int
    health_path: str
    app_env: Mapping[str, str]
    limits: Limits


ImageStatus = Literal["passed", "failed", "skipped"]


@dataclass(frozen=True)
class ImageOutcome:
    """What became of the candidate's Dockerfile: built and answering (passed), not built or not answering
    (failed, with the build's or the container's last lines), or not tried for a reason that is not the
    candidate's (skipped: no base image, no engine)."""

    status: ImageStatus
    summary: str  # one sentence
    log_tail: str = ""
    duration_s: float = 0.0


class Sandbox(abc.ABC):
    """A backend that builds environments and runs gradings in them."""

    name: str
    isolated: bool
    wheel_target: str  # "linux-container" or "host": the platform wheels are downloaded for
    # Whether several runs may use this object at once (threads): gradings in parallel, and a grading's
    # static checks while its app runs. A backend that relies on Ctrl-C reaching its own thread says no.
    concurrent_runs: bool = False
    # Whether the grader's tools run in an environment of their own (the runner image) rather than in the
    # grader's own interpreter.
    separate_runner: bool = False

    @abc.abstractmethod
    def foundation(self) -> Foundation:
        """What this backend builds environments on, ready (made on first use)."""

    @abc.abstractmethod
    def build(self, foundation: Foundation, request: EnvironmentRequest) -> Environment:
        """The environment `request` describes: the one already built under its key, else built now."""

    @abc.abstractmethod
    def check_context(self, runs_in: RunsIn, environments: Environments, input_dir: Path, output_dir: Path,
                      app_url: str = "") -> CheckContext:
        """Where a check's command finds its input and output and its interpreter, as this sandbox runs it."""

    @abc.abstractmethod
    def run(self, request: AppRunRequest) -> RunOutcome:
        """Start the app, wait for health, run the suite, and clean up everything it started."""

    @abc.abstractmethod
    def run_static(self, job: StaticJob) -> None:
        """Run the job's plan against the snapshot; each check's files land in `job.output_dir`."""

    def app_port(self, port: int) -> int:
        """The port the app is given: the challenge's own where the app has a network namespace to itself."""
        return port

    def replica_ports(self, port: int, count: int) -> tuple[int, ...]:
        """Each replica's port when the challenge asks for `count` > 1 (none with one: the app is on `port`);
        in a namespace of the run's own, fixed ports from POD_REPLICA_FIRST_PORT that no pod server uses."""
        if count <= 1:
            return ()
        taken = {port, *POD_PORTS}
        return tuple(itertools.islice((p for p in itertools.count(POD_REPLICA_FIRST_PORT) if p not in taken), count))

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

    def build_candidate_image(self, job: ImageJob) -> ImageOutcome:
        """Build the submission's Dockerfile and check its container answers; default: skipped, a backend without
        an engine builds no images."""
        return ImageOutcome("skipped", f"not built: the {self.name} backend builds no images (use --sandbox docker)")

    def abort(self) -> None:
        """Stop every run in progress now and refuse new ones (Ctrl-C during a batch); default: nothing."""
        return None
