"""The containers of one Docker grading: the pod's holder, its services, the app and the runner.

A `Launcher` starts every container of one run with the grader's name and labels (run, session, role, owner);
the engine (`grader.engine`) adds the hardening. The functions below say what each container of the pod is:
its image, command, mounts, environment and limits.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypeVar

from checks.formats import (
    OTLP_PORT_ENV,
    POD_OTLP_PORT,
    POD_UPSTREAM_PORT,
    UPSTREAM_PORT_ENV,
    otlp_app_environment,
    with_upstream_port,
)
from grader import __version__
from grader.engine import Container, ContainerSpec, Engine, Mount, Volume
from grader.models import Limits
from grader.paths import checks_dir
from grader.sandbox import services
from grader.sandbox.base import APP_CODE_DIR, AppRunRequest, SandboxError, replica_runner_env
from grader.sandbox.control import runner_environment
from grader.sandbox.owner import owner_labels
from grader.sandbox.services import ServiceRequest

MANAGED_LABEL = "grader.managed"
RUN_LABEL = "grader.run"
SESSION_LABEL = "grader.session"  # one DockerSandbox object: every container of one `grade` command
ROLE_LABEL = "grader.role"
APP_DATA_DIR = "/data"
RUNNER_TESTS = "/grader/tests"
RUNNER_LIB = "/grader/lib"
RUNNER_OUT = "/grader/out"
READY_MARKER = "ready"
CONTROL_SUBDIR = "control"
POD_ATTEMPTS = 3
HOLDER_MEMORY_MB = 64
HOLDER_PIDS = 32
NOT_READY_EXIT = 40
POLL_S = 0.1
MIN_LOG_KIB = 64
SERVICE_READY_MIN_S = 60  # initdb and the first start, on a busy machine
SERVICE_DATA_MIN_MB = 256  # a fresh PostgreSQL cluster alone is about 40 MB
SERVICE_PIDS_MIN = 128  # PostgreSQL runs a process per connection
SERVICE_LOG_TAIL = 1500
SANDBOX_TMPFS = "uid=10001,gid=10001,mode=1777"
PRIVATE_TMPFS = "uid=10001,gid=10001,mode=0700"
# The first line of the app's log, printed by the grader's wrapper before the app's command: when it is
# no longer in the kept log, Docker dropped older output to stay under the cap (json-file keeps one file).
LOG_START = "grader: the app's output starts here"

Log = Callable[[str], None]
Joined = TypeVar("Joined")


@dataclass(frozen=True)
class Launcher:
    """Starts the containers (and the volume) of one run, named `grader-<run>-<role>` and labelled as the
    grader's: run, session, role, and the grader process that owns them (`grader sandbox cleanup` removes
    only what a grader that is gone left behind)."""

    engine: Engine
    run_id: str
    session: str
    log: Log

    def labels(self, role: str) -> dict[str, str]:
        """The labels of this run's resource of `role`."""
        return {MANAGED_LABEL: "1", RUN_LABEL: self.run_id, SESSION_LABEL: self.session, ROLE_LABEL: role,
                "grader.version": __version__, **owner_labels()}

    def start(self, role: str, spec: ContainerSpec) -> Container:
        """Start `spec` as this run's container of `role`."""
        named = replace(spec, name=f"grader-{self.run_id}-{role}", labels=self.labels(role))
        return self.engine.run(named, log=self.log)

    def data_volume(self, limits: Limits) -> Volume:
        """The app's data dir: a size-capped tmpfs that outlives app restarts (the holder keeps it mounted)."""
        return self.engine.create_tmpfs_volume(f"grader-{self.run_id}-data", f"size={limits.data_mb}m,{PRIVATE_TMPFS}",
                                               self.labels("data"))

    def remove_all(self) -> int:
        """Remove every container and volume of this run (half-made ones included); return how many containers."""
        return remove_labelled(self.engine, f"{RUN_LABEL}={self.run_id}")


def remove_labelled(engine: Engine, label: str) -> int:
    """Remove the grader's containers and data volumes carrying `label` (one run's, or one session's); return
    how many containers. One that another thread removes meanwhile is skipped, not an error."""
    removed = 0
    for container in engine.containers(label):
        container.discard()
        removed += 1
    with suppress(Exception):  # an engine without volume filters: the run's own finally removed its volume
        for volume in engine.volumes(label):
            volume.discard()
    return removed


@dataclass
class Pod:
    """What one run started, for its teardown."""

    holder: Container | None = None
    app: Container | None = None
    more_replicas: list[Container] = field(default_factory=list)  # `[app] replicas` > 1: the second on
    worker: Container | None = None
    runner: Container | None = None
    volume: Volume | None = None
    services: list[Container] = field(default_factory=list)

    def containers(self) -> list[Container]:
        """Every container of the pod, the runner first and the holder last."""
        return [c for c in (self.runner, self.app, *self.more_replicas, self.worker, *self.services, self.holder)
                if c is not None]


@dataclass
class StartedServices:
    """The variables the started services give the app and, separately, the grader's runner."""

    app_env: dict[str, str] = field(default_factory=dict)
    runner_env: dict[str, str] = field(default_factory=dict)


# --- the holder and the services ----------------------------------------------------------------------------


def start_pod(launcher: Launcher, runner_image: str, pod: Pod, volume: str | None,
              requests: tuple[ServiceRequest, ...], limits: Limits,
              join: Callable[[str, StartedServices], Joined]) -> Joined:
    """The pod's holder, its services, then `join(holder_id, started)` starting what joins its namespace.

    The whole pod is made again (up to POD_ATTEMPTS in all) when the holder is found stopped meanwhile:
    under load the engine was seen to stop a fresh holder at once, and nothing can join the namespace of a
    stopped container ("cannot join network of a non running container").
    """
    for attempt in range(1, POD_ATTEMPTS + 1):
        pod.holder = _start_holder(launcher, runner_image, volume)
        try:
            return join(pod.holder.id, _start_services(launcher, pod.holder, pod, requests, limits))
        except SandboxError as exc:  # EngineError included
            holder = pod.holder.state()
            if holder["Status"] == "running":
                raise
            stopped = f"its holder stopped ({describe_stop(holder)})"
            if attempt == POD_ATTEMPTS:
                raise SandboxError(f"{exc}; {stopped}") from exc
            launcher.log(f"the pod of run {launcher.run_id} could not be started: {stopped}; starting it again")
            # Every container of the run so far, half-made ones included (their names must be free again).
            for container in launcher.engine.containers(f"{RUN_LABEL}={launcher.run_id}"):
                container.discard()
            pod.services.clear()
            pod.more_replicas.clear()
            pod.app = pod.worker = pod.runner = None
    raise AssertionError("unreachable")


def describe_stop(state: Mapping[str, object]) -> str:
    """`exit code 137, killed for memory`: what the engine says about a stopped container."""
    parts = [f"status {state.get('Status')}", f"exit code {state.get('ExitCode')}"]
    if state.get("OOMKilled"):
        parts.append("killed for memory")
    if state.get("Error"):
        parts.append(f"engine error: {state.get('Error')}")
    return ", ".join(parts)


def _start_holder(launcher: Launcher, runner_image: str, volume: str | None) -> Container:
    # The runner image, not the candidate's: a candidate wheel could shadow `sleep` on PATH.
    mounts = (Mount(volume, APP_DATA_DIR),) if volume else ()
    # Room to spare: until it execs `sleep`, the runtime's own init (Go threads) counts against these limits.
    return launcher.start("pod", ContainerSpec(runner_image, ["/bin/sleep", "infinity"], memory_mb=HOLDER_MEMORY_MB,
                                               pids=HOLDER_PIDS, cpus=0.1, mounts=mounts))


def _start_services(launcher: Launcher, holder: Container, pod: Pod, requests: tuple[ServiceRequest, ...],
                    limits: Limits) -> StartedServices:
    """Start each service in the pod's namespace, all at once, then wait until every one is ready.

    A service that does not come up is the grader's failure, not the candidate's: SandboxError.
    """
    started = StartedServices()
    for request in requests:
        credentials = services.ServiceCredentials.new()
        pod.services.append(_start_service(launcher, holder.id, request, credentials, limits))
        started.app_env.update(services.app_variables(request.kind, credentials))
        started.runner_env.update(services.runner_variables(request.kind, credentials))
    deadline = time.monotonic() + max(limits.startup_timeout_s, SERVICE_READY_MIN_S)
    for request, container in zip(requests, pod.services, strict=True):
        _wait_for_service(request, container, deadline)
    return started


def _start_service(launcher: Launcher, holder_id: str, request: ServiceRequest,
                   credentials: services.ServiceCredentials, limits: Limits) -> Container:
    """One service container: the app's limits and hardening, its data on a tmpfs, nothing lasting."""
    data_mb = max(limits.data_mb, SERVICE_DATA_MIN_MB)
    return launcher.start(f"service-{request.kind}", ContainerSpec(
        services.image_tag(request),
        services.start_command(request.kind),
        network=f"container:{holder_id}",
        environment=services.service_environment(request.kind, credentials, limits.memory_mb),
        working_dir="/tmp",
        tmpfs={"/tmp": f"size=16m,{SANDBOX_TMPFS}", services.DATA_DIR: f"size={data_mb}m,{PRIVATE_TMPFS}"},
        init=True,
        memory_mb=limits.memory_mb,
        no_swap=True,
        cpus=limits.cpus,
        pids=max(limits.pids, SERVICE_PIDS_MIN),
    ))


def _wait_for_service(request: ServiceRequest, container: Container, deadline: float) -> None:
    """Wait for the service's ready line; raise SandboxError with its log when it dies or takes too long."""
    while True:
        log = container.logs()
        if services.READY_LINE in log:
            return
        if container.state()["Status"] == "exited" or time.monotonic() > deadline:
            what = "exited" if container.state()["Status"] == "exited" else "was not ready in time"
            tail = log.strip()[-SERVICE_LOG_TAIL:] or "(no output)"
            raise SandboxError(f"the {request.kind} {request.version} service {what}: {tail}")
        time.sleep(POLL_S)


# --- the app and the runner ---------------------------------------------------------------------------------


def start_app(launcher: Launcher, holder_id: str, image: str, request: AppRunRequest, volume: str,
              services_env: dict[str, str]) -> list[Container]:
    """The candidate's app, in the pod's namespace, its snapshot read-only and its data on the pod's volume:
    one container per replica (`app`, then `app-2`, ...), each with PORT set to its own port, sharing the
    volume and services; one container on the request's port without replicas."""
    ports = request.replica_ports or (request.port,)
    return [launcher.start("app" if index == 0 else f"app-{index + 1}",
                           _candidate_spec(image, request.start_command, holder_id, request, volume, services_env,
                                           port))
            for index, port in enumerate(ports)]


def start_worker(launcher: Launcher, holder_id: str, image: str, request: AppRunRequest, volume: str,
                 services_env: dict[str, str]) -> Container | None:
    """The submission's worker, when it declares one: a container like the app's (same image, environment,
    mounts, hardening and limits) in the same namespace, so it shares the app's loopback and data dir."""
    if not request.worker_command:
        return None
    return launcher.start("worker", _candidate_spec(image, request.worker_command, holder_id, request, volume,
                                                    services_env, request.port))


def _candidate_spec(image: str, command: str, holder_id: str, request: AppRunRequest, volume: str,
                    services_env: dict[str, str], port: int) -> ContainerSpec:
    limits = request.limits
    return ContainerSpec(
        image,
        ["/bin/sh", "-c", f"echo {shlex.quote(LOG_START)}; {command}"],
        network=f"container:{holder_id}",
        # the runner's OTLP receiver on the pod's loopback (the challenge's own `[app] env` may override)
        environment={**otlp_app_environment(POD_OTLP_PORT),
                     **app_environment_for(with_upstream_port(dict(request.app_env), POD_UPSTREAM_PORT), port,
                                          services_env)},
        working_dir=APP_CODE_DIR,
        mounts=(Mount(str(request.snapshot), APP_CODE_DIR), Mount(volume, APP_DATA_DIR, writable=True)),
        tmpfs={"/tmp": f"size=32m,{SANDBOX_TMPFS}"},
        init=True,  # tini as PID 1: reaps zombies and forwards signals to the app
        memory_mb=limits.memory_mb,
        no_swap=True,
        cpus=limits.cpus,
        pids=limits.pids,
        log_max=f"{log_cap_bytes(limits) // 1024}k",
    )


def start_runner(launcher: Launcher, runner_image: str, holder_id: str, request: AppRunRequest, out_dir: Path,
                 services_env: dict[str, str]) -> Container:
    """The grader's runner: waits for the app's health path, marks the app ready, then runs the suite (both
    commands come ready in the request)."""
    script = (
        f"{shlex.join(request.wait_argv)} || exit {NOT_READY_EXIT}; "
        f": > {RUNNER_OUT}/{READY_MARKER}; exec {shlex.join(request.suite_argv)}"
    )
    return launcher.start("runner", ContainerSpec(
        runner_image,
        ["/bin/sh", "-c", script],
        network=f"container:{holder_id}",
        environment={"PYTHONPATH": RUNNER_LIB, "HOME": "/tmp", "PYTHONDONTWRITEBYTECODE": "1",
                     **runner_environment(f"{RUNNER_OUT}/{CONTROL_SUBDIR}", request.health_path,
                                          request.limits.startup_timeout_s),
                     OTLP_PORT_ENV: str(POD_OTLP_PORT), UPSTREAM_PORT_ENV: str(POD_UPSTREAM_PORT), **services_env,
                     **replica_runner_env(request)},
        working_dir="/tmp",
        mounts=(Mount(str(request.tests_dir), RUNNER_TESTS), Mount(str(checks_dir()), f"{RUNNER_LIB}/checks"),
                Mount(str(out_dir), RUNNER_OUT, writable=True)),
        tmpfs={"/tmp": f"size=64m,{SANDBOX_TMPFS}"},
        memory_mb=512,
        pids=256,
        cpus=1.0,
    ))


def app_environment_for(app_env: Mapping[str, str], port: int,
                        services_env: dict[str, str] | None = None) -> dict[str, str]:
    """The contract variables (PORT, DATA_DIR, DATABASE_URL, ...), the services' (DATABASE_URL of the
    PostgreSQL service replaces the SQLite default), then the challenge's own, formatted."""
    env = {
        "PORT": str(port),
        "DATA_DIR": APP_DATA_DIR,
        "DATABASE_URL": f"sqlite:///{APP_DATA_DIR}/app.db",
        "HOME": "/tmp",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        **(services_env or {}),
    }
    for name, value in app_env.items():
        env[name] = value.replace("{data_dir}", APP_DATA_DIR).replace("{port}", str(port))
    return env


def log_cap_bytes(limits: Limits) -> int:
    """The app's log cap: Docker's json-file `max-size`, in whole KiB, at least 64 KiB."""
    return max(limits.log_bytes // 1024, MIN_LOG_KIB) * 1024


def without_start_line(log: str) -> str:
    """The app's log without the grader's start lines (one per start, restarts included): its own output only."""
    head, sep, rest = log.partition(LOG_START + "\n")
    own = rest if sep and not head.strip() else log
    return own.replace(LOG_START + "\n", "")

