"""The Docker backend: the isolation boundary between candidate code and the grader.

One grading is a three-container pod (four with a worker) with no network at all:
- `pod`: a tiny holder of a `--network none` network namespace (loopback only, no route anywhere);
- `app`: the candidate's app, joined to the pod's namespace, read-only root, non-root, no capabilities,
  limits on memory, CPUs and processes, a size-capped tmpfs volume at /data as its only lasting writable
  place (the holder mounts it too, so it stays mounted, with its content, when the app is restarted);
- `worker`: the submission's background worker, when it declares one (a Procfile `worker:` line or
  `[tool.grader] worker`): the app's image, command line aside, hardening, limits, environment and data volume,
  in the same namespace; restarted and removed with the app;
- `app-2`, ...: with `[app] replicas` > 1, one more app container per replica, like the first (its own PORT,
  the same volume); the runner then serves a round-robin proxy at the app's URL (`checks.replicas`);
- `runner`: the grader's image running the hidden suite, joined to the same namespace, so it reaches the
  app on 127.0.0.1 and nothing else. Hidden tests are mounted into the runner only. The suite asks the
  grader to restart the app or hand out its log through a control directory (`checks.app_control`).
Services the challenge declares (PostgreSQL, Redis: `grader.sandbox.services`) run as more containers in
the same namespace, each fresh and empty, with its data on a tmpfs and the app's limits and hardening; the
app and the candidate's own tests reach them on 127.0.0.1 and nothing else does.
Every container and volume carries a `grader.run` label and its owner (host, pid and start time of the
grader process) and is removed in `finally`, also after timeouts and Ctrl-C; what a grader killed with
SIGKILL left behind is removed by `grader sandbox cleanup` (`grader.sandbox.cleanup`).

The pod's containers are described in `grader.sandbox.docker_pod`, watched in `grader.sandbox.docker_watch`,
and started through the engine gateway (`grader.engine`), which adds the hardening to every one.
"""

from __future__ import annotations

import signal
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from checks.formats import POD_UPSTREAM_PORT, StopOutcome, own_tests_environment
from grader import cache
from grader.checks.spec import CheckContext, RunsIn
from grader.checks.static import MAX_REPORT_BYTES, write_plan
from grader.engine import Container, ContainerSpec, Engine, EngineError, Mount, connect
from grader.models import Finding, Limits, Severity
from grader.paths import checks_dir
from grader.sandbox import images
from grader.sandbox.base import (
    AppRunRequest,
    Environment,
    EnvironmentRequest,
    Environments,
    Foundation,
    ImageJob,
    ImageOutcome,
    RunOutcome,
    Sandbox,
    SandboxError,
    StaticJob,
)
from grader.sandbox.candidate_image import build_and_check
from grader.sandbox.control import STOP_LOG_CHARS, ControlServer
from grader.sandbox.docker_pod import (
    APP_DATA_DIR,
    CONTROL_SUBDIR,
    PRIVATE_TMPFS,
    RUN_LABEL,
    RUNNER_LIB,
    RUNNER_OUT,
    RUNNER_TESTS,
    SANDBOX_TMPFS,
    SESSION_LABEL,
    Launcher,
    Pod,
    StartedServices,
    app_environment_for,
    remove_labelled,
    start_app,
    start_pod,
    start_runner,
    start_worker,
    without_start_line,
)
from grader.sandbox.docker_watch import supervise
from grader.sandbox.mypy_seed import SEED_MOUNT, ensure_mypy_seed
from grader.sandbox.services import ServiceRequest

if TYPE_CHECKING:
    from grader.sandbox.builder import ContainerBuilder

STATIC_SUBMISSION = "/submission"
KILL_WAIT_S = 10  # how long a SIGKILLed container may take to be reported as exited
RESTART_GRACE_S = 5  # SIGTERM, then SIGKILL after this long, when the suite restarts the app
TOOLS_MEMORY_MB = 1536  # the grader's own tools: mypy needs room on a large submission

Log = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


class DockerSandbox(Sandbox):
    """Grades in locked-down containers on a local Docker engine."""

    name = "docker"
    isolated = True
    wheel_target = "linux-container"
    concurrent_runs = True  # the engine's client is shared by threads; every run has its own containers
    separate_runner = True  # the grader's tools run in the runner image, never in the candidate's

    def __init__(self, python: str = "3.11", client: Any = None, log: Log = _quiet, engine: Engine | None = None
                 ) -> None:
        """`engine` is the engine to grade on (default: `grader.engine.connect()`); `client` wraps an SDK client
        (or a stand-in for one) instead."""
        self.python = python
        self.engine = engine or (Engine(client) if client is not None else connect())
        self.log = log
        self.session = uuid.uuid4().hex[:12]
        self._aborted = threading.Event()

    # --- environments -----------------------------------------------------------------------------

    def base_image(self) -> str:
        """The base image tag, built on first use (registry first, else the offline bootstrap)."""
        tag = images.base_image_tag(self.python)
        if images.image_exists(self.engine, tag):
            return tag
        self.log(f"base image {tag} is missing: building it once (later gradings reuse it)")
        try:
            return images.build_base_image(self.engine, self.python, log=self.log)
        except SandboxError as registry_error:
            self.log(f"registry build failed ({registry_error}); trying the offline bootstrap")
            try:
                return images.bootstrap_base_image(self.engine, self.python, log=self.log)
            except SandboxError as offline_error:
                raise SandboxError(
                    f"base image {tag} is missing and could not be built ({offline_error}): "
                    "run `grader sandbox build` (with a registry) or `grader sandbox bootstrap --offline`"
                ) from None

    def describe_image(self) -> str | None:
        return images.base_image_tag(self.python)

    def builder(self, limits: Limits) -> ContainerBuilder:
        """Source archives are built in a throwaway container of this engine, with the app's limits."""
        from grader.sandbox.builder import ContainerBuilder

        return ContainerBuilder(self, limits.memory_mb, limits.pids, limits.cpus)

    def describe_services(self, services: tuple[ServiceRequest, ...]) -> dict[str, str]:
        """Each service's image, built on first use (official image with a registry, else Debian's packages)."""
        return {request.kind: images.ensure_service_image(self.engine, request, log=self.log) for request in services}

    def foundation(self) -> Foundation:
        """The base image, built on first use: every environment and runner image is built on it."""
        base = self.base_image()
        image = self.engine.image(base)
        if image is None:
            raise EngineError(f"the engine has no image {base}", missing=True)
        return Foundation(kind="image", name=base, identity=image.id, python=self.python)

    def build(self, foundation: Foundation, request: EnvironmentRequest) -> Environment:
        """The image `grader-<role>:<key>`, built once per key; a runner image comes with its warm mypy cache."""
        ref = images.ensure_python_image(
            self.engine, base=foundation.name, role=request.role, key=request.key, wheels_dir=request.wheels_dir,
            requirements=list(request.requirements), log=self.log,
        )
        seed = None
        if request.role == "runner":  # the tools' mypy starts from a warm cache of the standard library
            seed = ensure_mypy_seed(self.launcher(uuid.uuid4().hex[:12]), ref.tag, ref.id)
        return Environment(
            backend=self.name, key=request.key, python=request.python, reused=ref.reused, image=ref.tag,
            image_id=ref.id, base_image=foundation.name, mypy_seed=seed,
        )

    def check_context(self, runs_in: RunsIn, environments: Environments, input_dir: Path, output_dir: Path,
                      app_url: str = "") -> CheckContext:
        """The mounts: the suite and its output in the runner, the submission and the output in a static run."""
        if runs_in == "suite-runner":
            return CheckContext(RUNNER_TESTS, RUNNER_OUT, app_url=app_url)
        return CheckContext(STATIC_SUBMISSION, RUNNER_OUT)

    # --- one grading ------------------------------------------------------------------------------

    def launcher(self, run_id: str) -> Launcher:
        """What starts the containers of run `run_id`, with this session's labels."""
        return Launcher(self.engine, run_id, self.session, self.log)

    def build_candidate_image(self, job: ImageJob) -> ImageOutcome:
        """Build the submission's Dockerfile on the engine (no network for its steps) and check its container
        answers the health path (`grader.sandbox.candidate_image`); the image and containers are removed."""
        with _engine_errors_as_sandbox_errors():
            return build_and_check(self.engine, self.launcher(uuid.uuid4().hex[:12]), job, self.log)

    def run(self, request: AppRunRequest) -> RunOutcome:
        """Start the pod, wait for the app's health path, run the suite, always remove everything."""
        runner = _image_of(_runner_of(request.environments))
        image = _image_of(request.environments.candidate)
        launcher = self.launcher(uuid.uuid4().hex[:12])
        with _engine_errors_as_sandbox_errors(), _writable_output(request.output_dir) as out_dir, \
                self._pod(launcher) as pod:
            pod.volume = volume = launcher.data_volume(request.limits)

            def join(holder_id: str, started: StartedServices
                     ) -> tuple[list[Container], Container | None, Container]:
                pod.app, *pod.more_replicas = apps = start_app(launcher, holder_id, image, request, volume.name,
                                                               started.app_env)
                pod.worker = start_worker(launcher, holder_id, image, request, volume.name, started.app_env)
                pod.runner = start_runner(launcher, runner, holder_id, request, out_dir, started.runner_env)
                return apps, pod.worker, pod.runner

            apps, worker, runner_container = start_pod(launcher, runner, pod, volume.name, request.services,
                                                       request.limits, join)

            def restart() -> None:  # every replica, and the worker, go down and come back
                for app in apps:
                    app.restart(RESTART_GRACE_S)
                if worker is not None:
                    worker.restart(RESTART_GRACE_S)

            def stop(signum: signal.Signals, grace_s: float) -> tuple[StopOutcome, StopOutcome | None]:
                return stop_and_start(apps, worker, signum, grace_s)

            control = ControlServer.create(
                out_dir / CONTROL_SUBDIR, restart=restart, read_log=lambda: apps_log(apps),
                read_worker_log=(lambda: without_start_line(worker.logs())) if worker is not None else None,
                stop=stop)
            return supervise(apps, runner_container, request, out_dir, control, worker)

    def run_static(self, job: StaticJob) -> None:
        """Run the job's plan in one container with no network: the runner image for the grader's tools,
        the candidate's environment image for the candidate's own tests (with the candidate's limits)."""
        runner = _runner_of(job.environments)
        image = _image_of(runner) if job.where == "tools" else _image_of(job.environments.candidate)
        launcher = self.launcher(uuid.uuid4().hex[:12])
        with _engine_errors_as_sandbox_errors(), _writable_output(job.output_dir) as out_dir, \
                self._pod(launcher) as pod:
            write_plan(job.plan, out_dir)
            seed = runner.mypy_seed if job.where == "tools" else None

            def start_job(network: str, services_env: dict[str, str]) -> Container:
                pod.runner = launcher.start(f"static-{job.where}", _static_spec(image, job, out_dir, network,
                                                                               services_env, seed))
                return pod.runner

            if job.services:  # the candidate's own tests get fresh services of their own, in a pod
                start_pod(launcher, _image_of(runner), pod, None, job.services, job.limits,
                          lambda holder_id, started: start_job(f"container:{holder_id}", started.app_env))
            else:
                start_job("none", {})
            assert pod.runner is not None
            pod.runner.wait(job.timeout_s)  # a timeout here means the plan overran: what finished is kept
            pod.runner.kill()
            _copy_own_reports(job, out_dir)

    def abort(self) -> None:
        """Stop every grading of this sandbox now (Ctrl-C in a batch): no new pod starts, and every
        container of this session is removed; the runs watching them then end at once."""
        self._aborted.set()
        remove_run_containers(self.engine, session=self.session)

    @contextmanager
    def _pod(self, launcher: Launcher) -> Iterator[Pod]:
        if self._aborted.is_set():
            raise SandboxError("the grading was interrupted")
        pod = Pod()
        try:
            yield pod
        finally:
            for container in pod.containers():
                container.discard()
            if pod.volume is not None:
                pod.volume.discard()
            launcher.remove_all()


# --- helpers ------------------------------------------------------------------------------------------


def stop_and_start(apps: list[Container], worker: Container | None, signum: signal.Signals, grace_s: float
                   ) -> tuple[StopOutcome, StopOutcome | None]:
    """Send `signum` to the app's containers (every replica, and the worker's), SIGKILL what still runs after
    `grace_s`, say how the app (its first replica) and the worker ended, and start them all again. The engine
    delivers the signal to the container's init (tini), which passes it to the start command's shell: only a
    command that `exec`s the server lets it through."""
    containers = [*apps, *([worker] if worker is not None else [])]
    offsets = [len(container.logs()) for container in containers]
    for container in containers:
        container.send(signum.name)
    deadline = time.monotonic() + grace_s
    outcomes = [_ended(container, deadline, offset) for container, offset in zip(containers, offsets, strict=True)]
    for container in containers:
        container.start()
    return outcomes[0], outcomes[-1] if worker is not None else None


def _ended(container: Container, deadline: float, log_offset: int) -> StopOutcome:
    code = container.wait(max(0.1, deadline - time.monotonic()))  # an exited container answers at once
    exited = code is not None
    if not exited:
        container.kill()
        code = container.wait(KILL_WAIT_S)
    log = without_start_line(container.logs()[log_offset:])[-STOP_LOG_CHARS:]
    return {"exited": exited, "exit_code": code, "log": log}


def apps_log(apps: list[Container]) -> str:
    """The app's own output: its one container's, or every replica's one after the other."""
    return "".join(without_start_line(app.logs()) for app in apps)


def _static_spec(image: str, job: StaticJob, out_dir: Path, network: str, services_env: dict[str, str],
                 seed: Path | None) -> ContainerSpec:
    """The container of one static job: the submission read-only, the checks, the output dir."""
    mounts = [Mount(str(job.snapshot), STATIC_SUBMISSION), Mount(str(checks_dir()), f"{RUNNER_LIB}/checks"),
              Mount(str(out_dir), RUNNER_OUT, writable=True)]
    if seed is not None:
        mounts.append(Mount(str(seed), SEED_MOUNT))
    tools = job.where == "tools"
    return ContainerSpec(
        image, list(job.argv),
        network=network,
        # `{upstream_port}`: nothing serves it here, so the candidate's own tests meet an unreachable upstream (and
        # the check is told which variables name it, to find the tests that called it for real)
        environment={**app_environment_for(own_tests_environment(dict(job.app_env), POD_UPSTREAM_PORT), 0,
                                           services_env),
                     "PYTHONPATH": RUNNER_LIB,
                     **({"GRADER_MYPY_SEED": SEED_MOUNT} if seed is not None else {})},
        working_dir="/tmp",  # not the submission: a candidate package named `checks` must not shadow ours
        mounts=tuple(mounts),
        tmpfs={"/tmp": f"size=256m,{SANDBOX_TMPFS}", APP_DATA_DIR: f"size={job.limits.data_mb}m,{PRIVATE_TMPFS}"},
        memory_mb=TOOLS_MEMORY_MB if tools else job.limits.memory_mb,
        no_swap=True,
        pids=256 if tools else job.limits.pids,
        cpus=1.0 if tools else job.limits.cpus,
    )


def _runner_of(environments: Environments) -> Environment:
    """The runner image's environment: Docker never runs the grader's tools in the candidate's image."""
    if environments.runner is None:
        raise SandboxError("the runner image is not prepared: build the runner environment first")
    return environments.runner


def _image_of(environment: Environment) -> str:
    if environment.image is None:
        raise SandboxError("the environment has no image")
    return environment.image


def _copy_own_reports(job: StaticJob, out_dir: Path) -> None:
    """Only this job's own reports leave the sandbox: code in it (the candidate's tests) may have written
    forged reports of other checks, or a hidden.json, into its output dir."""
    own = job.reports
    for path in out_dir.glob("*.json"):
        if path.name in own and path.is_file() and not path.is_symlink():
            (job.output_dir / path.name).write_bytes(path.read_bytes()[:MAX_REPORT_BYTES])


@contextmanager
def _engine_errors_as_sandbox_errors() -> Iterator[None]:
    """An error the engine answers during one grading fails that grading (an error result naming it), not
    the whole batch."""
    try:
        yield
    except EngineError as exc:
        raise SandboxError(f"the Docker engine failed during the grading: {exc.explanation}") from None


@contextmanager
def _writable_output(target: Path) -> Iterator[Path]:
    """A private scratch dir the runner (uid 10001) may write; results are copied out afterwards."""
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="run-", dir=cache.scratch_dir()) as scratch:
        out = Path(scratch) / "out"
        out.mkdir()
        out.chmod(0o777)
        yield out


def remove_run_containers(engine: Engine, run_id: str | None = None, session: str | None = None) -> int:
    """Remove the grader's containers and data volumes of one run or of one session; returns how many
    containers. (Left-overs of other graders: `grader.sandbox.cleanup`.)

    A container that another thread removes while this lists them is skipped, not an error.
    """
    if not run_id and not session:
        raise ValueError("name the run or the session whose containers to remove")
    return remove_labelled(engine, f"{RUN_LABEL}={run_id}" if run_id else f"{SESSION_LABEL}={session}")


def findings_for_isolation() -> list[Finding]:
    """Stated in every Docker result so a reader knows what the boundary was."""
    return [Finding(
        message="graded in Docker: no network, read-only root, non-root user, no capabilities, limits applied",
        severity=Severity.INFO, rule="sandbox",
    )]
