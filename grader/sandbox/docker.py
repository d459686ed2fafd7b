"""The Docker backend: the isolation boundary between candidate code and the grader.

One grading is a three-container pod with no network at all:
- `pod`: a tiny holder of a `--network none` network namespace (loopback only, no route anywhere);
- `app`: the candidate's app, joined to the pod's namespace, read-only root, non-root, no capabilities,
  limits on memory, CPUs and processes, a size-capped tmpfs volume at /data as its only lasting writable
  place (the holder mounts it too, so it stays mounted, with its content, when the app is restarted);
- `runner`: the grader's image running the hidden suite, joined to the same namespace, so it reaches the
  app on 127.0.0.1 and nothing else. Hidden tests are mounted into the runner only. The suite asks the
  grader to restart the app or hand out its log through a control directory (`checks.app_control`).
Services the challenge declares (PostgreSQL, Redis: `grader.sandbox.services`) run as more containers in
the same namespace, each fresh and empty, with its data on a tmpfs and the app's limits and hardening; the
app and the candidate's own tests reach them on 127.0.0.1 and nothing else does.
Every container and volume carries a `grader.run` label and its owner (host, pid and start time of the
grader process) and is removed in `finally`, also after timeouts and Ctrl-C; what a grader killed with
SIGKILL left behind is removed by `grader sandbox cleanup` (`grader.sandbox.cleanup`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import shlex
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from docker import errors as docker_errors

from grader import __version__
from grader.checks.registry import HIDDEN_TESTS
from grader.checks.spec import CheckContext
from grader.checks.static import MAX_REPORT_BYTES, PLAN_NAME, plan_timeout, write_plan
from grader.models import AppRun, Finding, Limits, Severity
from grader.paths import cache_dir, checks_dir
from grader.sandbox import images, services
from grader.sandbox.base import (
    APP_CODE_DIR,
    Environment,
    EnvironmentRequest,
    RunOutcome,
    RunPlan,
    Sandbox,
    SandboxError,
    StaticJob,
)
from grader.sandbox.control import ControlServer, runner_environment
from grader.sandbox.evidence import Limit, describe, limits_from_log, ordered
from grader.sandbox.mypy_seed import SEED_MOUNT, ensure_mypy_seed
from grader.sandbox.owner import owner_labels
from grader.sandbox.services import ServiceRequest

if TYPE_CHECKING:
    from grader.sandbox.builder import ContainerBuilder

MANAGED_LABEL = "grader.managed"
RUN_LABEL = "grader.run"
SESSION_LABEL = "grader.session"  # one DockerSandbox object: every container of one `grade` command
SANDBOX_UID = "10001:10001"
APP_DATA_DIR = "/data"
RUNNER_TESTS = "/grader/tests"
RUNNER_LIB = "/grader/lib"
RUNNER_OUT = "/grader/out"
STATIC_SUBMISSION = "/submission"
READY_MARKER = "ready"
CONTROL_SUBDIR = "control"
START_ATTEMPTS = 3
POD_ATTEMPTS = 2
TRANSIENT_START_SIGNS = ("OCI runtime start failed", "container process is already dead",
                         "cannot start a stopped process")
RESTART_GRACE_S = 5  # SIGTERM, then SIGKILL after this long, when the suite restarts the app
NOT_READY_EXIT = 40
LOG_TAIL_CHARS = 4000
POLL_S = 0.1
STATS_EVERY_S = 0.5  # how often the app's process count is sampled (in a thread)
# Where the engine's cgroup for a container keeps its process count (cgroup v1, v2 with cgroupfs or systemd).
PIDS_CURRENT_FILES = (
    "/sys/fs/cgroup/pids/docker/{id}/pids.current",
    "/sys/fs/cgroup/docker/{id}/pids.current",
    "/sys/fs/cgroup/system.slice/docker-{id}.scope/pids.current",
)
MIN_LOG_KIB = 64
SERVICE_READY_MIN_S = 60  # initdb and the first start, on a busy machine
SERVICE_DATA_MIN_MB = 256  # a fresh PostgreSQL cluster alone is about 40 MB
SERVICE_PIDS_MIN = 128  # PostgreSQL runs a process per connection
SERVICE_LOG_TAIL = 1500
# The first line of the app's log, printed by the grader's wrapper before the app's command: when it is
# no longer in the kept log, Docker dropped older output to stay under the cap (json-file keeps one file).
LOG_START = "grader: the app's output starts here"

Log = Callable[[str], None]
detail = logging.getLogger(__name__)  # `grader -v` shows these lines


def _quiet(_: str) -> None:
    pass


@dataclass
class _Pod:
    holder: Any = None
    app: Any = None
    runner: Any = None
    volume: Any = None
    services: list[Any] = field(default_factory=list)

    def containers(self) -> list[Any]:
        return [c for c in (self.runner, self.app, *self.services, self.holder) if c is not None]


class DockerSandbox(Sandbox):
    """Grades in locked-down containers on a local Docker engine."""

    name = "docker"
    isolated = True
    wheel_target = "linux-container"
    concurrent_runs = True  # the SDK client is shared by threads; every run has its own containers

    def __init__(self, python: str = "3.11", client: Any = None, log: Log = _quiet) -> None:
        self.python = python
        self.client = client if client is not None else images.connect()
        self.log = log
        self._runner: images.ImageRef | None = None
        self._mypy_seed: Path | None = None
        self.session = uuid.uuid4().hex[:12]
        self._aborted = threading.Event()

    # --- environments -----------------------------------------------------------------------------

    def base_image(self) -> str:
        """The base image tag, built on first use (registry first, else the offline bootstrap)."""
        tag = images.base_image_tag(self.python)
        if images.image_exists(self.client, tag):
            return tag
        self.log(f"base image {tag} is missing: building it once (later gradings reuse it)")
        try:
            return images.build_base_image(self.client, self.python, log=self.log)
        except SandboxError as registry_error:
            self.log(f"registry build failed ({registry_error}); trying the offline bootstrap")
            try:
                return images.bootstrap_base_image(self.client, self.python, log=self.log)
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
        return {request.kind: images.ensure_service_image(self.client, request, log=self.log) for request in services}

    def prepare(self, request: EnvironmentRequest) -> Environment:
        """The candidate's environment image, keyed by base image, Python, requirements, grader version."""
        base = self.base_image()
        key = environment_key(self._image_id(base), request.python, request.requirements)
        ref = images.ensure_python_image(
            self.client, base=base, role="env", key=key, wheels_dir=request.wheels_dir,
            requirements=list(request.requirements), log=self.log,
        )
        return Environment(
            backend=self.name, key=key, python=request.python, reused=ref.reused, image=ref.tag,
            image_id=ref.id, base_image=base, reason=ref.reason,
        )

    def prepare_runner(self, request: EnvironmentRequest) -> None:
        """The grader-controlled runner image (pytest, httpx): never built from candidate input."""
        base = self.base_image()
        key = environment_key(self._image_id(base), request.python, ("runner", *request.requirements))
        self._runner = images.ensure_python_image(
            self.client, base=base, role="runner", key=key, wheels_dir=request.wheels_dir,
            requirements=list(request.requirements), log=self.log,
        )
        options = self.locked_down(uuid.uuid4().hex[:12], "mypy-seed")
        self._mypy_seed = ensure_mypy_seed(self.client, self._runner.tag, self._runner.id, options, self.log)

    def _image_id(self, tag: str) -> str:
        return str(self.client.images.get(tag).id)

    # --- one grading ------------------------------------------------------------------------------

    def run(self, environment: Environment, plan: RunPlan) -> RunOutcome:
        """Start the pod, wait for the app's health path, run the suite, always remove everything."""
        if self._runner is None:
            raise SandboxError("the runner image is not prepared: call prepare_runner() first")
        if environment.image is None:
            raise SandboxError("the environment has no image")
        run_id = uuid.uuid4().hex[:12]
        with _engine_errors_as_sandbox_errors(), _writable_output(plan.output_dir) as out_dir, \
                self._pod(run_id) as pod:
            pod.volume = self._data_volume(run_id, plan.limits)
            started = self._start_holder_and_services(run_id, pod, pod.volume.name, plan.services, plan.limits)
            pod.app = self._start_app(run_id, pod.holder.id, environment.image, plan, pod.volume.name,
                                      started.app_env)
            control = ControlServer.create(out_dir / CONTROL_SUBDIR, restart=lambda: _restart(pod.app),
                                           read_log=lambda: _without_start_line(_logs(pod.app)))
            pod.runner = self._start_runner(run_id, pod.holder.id, plan, out_dir, started.runner_env)
            return self._supervise(pod, plan, out_dir, control)

    def run_static(self, environment: Environment, job: StaticJob) -> None:
        """Run the job's checks in one container with no network: the runner image for the grader's tools,
        the candidate's environment image for the candidate's own tests (with the candidate's limits)."""
        if self._runner is None:
            raise SandboxError("the runner image is not prepared: call prepare_runner() first")
        image = self._runner.tag if job.where == "tools" else environment.image
        run_id = uuid.uuid4().hex[:12]
        with _engine_errors_as_sandbox_errors(), _writable_output(job.output_dir) as out_dir, \
                self._pod(run_id) as pod:
            write_plan(job.checks, CheckContext(STATIC_SUBMISSION, RUNNER_OUT), out_dir)
            network_mode, services_env = "none", {}
            if job.services:  # the candidate's own tests get fresh services of their own, in a pod
                services_env = self._start_holder_and_services(run_id, pod, None, job.services, job.limits).app_env
                network_mode = f"container:{pod.holder.id}"
            pod.runner = self.run_container(
                image, ["python", "-m", "checks.run_plan", f"{RUNNER_OUT}/{PLAN_NAME}"],
                network_mode=network_mode,
                environment={**app_environment_for(job.app_env, 0, services_env), "PYTHONPATH": RUNNER_LIB,
                             **self._seed_env(job)},
                working_dir="/tmp",  # not the submission: a candidate package named `checks` must not shadow ours
                volumes={
                    str(job.snapshot): {"bind": STATIC_SUBMISSION, "mode": "ro"},
                    str(checks_dir()): {"bind": f"{RUNNER_LIB}/checks", "mode": "ro"},
                    str(out_dir): {"bind": RUNNER_OUT, "mode": "rw"},
                    **self._seed_volume(job),
                },
                tmpfs={
                    "/tmp": "size=256m,uid=10001,gid=10001,mode=1777",
                    APP_DATA_DIR: f"size={job.limits.data_mb}m,uid=10001,gid=10001,mode=0700",
                },
                **_static_limits(job),
                **self.locked_down(run_id, f"static-{job.where}"),
            )
            with suppress(Exception):  # a timeout here means the plan overran: what finished is kept
                pod.runner.wait(timeout=plan_timeout(job.checks))
            _kill(pod.runner)
            # Only this job's own reports leave the sandbox: code in it (the candidate's tests) may have
            # written forged reports of other checks, or a hidden.json, into its output dir.
            own = {f"{c.id}{suffix}" for c in job.checks for suffix in (".json", ".run.json")}
            for path in out_dir.glob("*.json"):
                if path.name in own and path.is_file() and not path.is_symlink():
                    (job.output_dir / path.name).write_bytes(path.read_bytes()[:MAX_REPORT_BYTES])

    def _seed_env(self, job: StaticJob) -> dict[str, str]:
        """Point the typecheck check at the warm standard-library mypy cache (grader tools only)."""
        return {"GRADER_MYPY_SEED": SEED_MOUNT} if job.where == "tools" and self._mypy_seed else {}

    def _seed_volume(self, job: StaticJob) -> dict[str, dict[str, str]]:
        if job.where != "tools" or self._mypy_seed is None:
            return {}
        return {str(self._mypy_seed): {"bind": SEED_MOUNT, "mode": "ro"}}

    def abort(self) -> None:
        """Stop every grading of this sandbox now (Ctrl-C in a batch): no new pod starts, and every
        container of this session is removed; the runs watching them then end at once."""
        self._aborted.set()
        remove_run_containers(self.client, session=self.session)

    @contextmanager
    def _pod(self, run_id: str) -> Iterator[_Pod]:
        if self._aborted.is_set():
            raise SandboxError("the grading was interrupted")
        pod = _Pod()
        try:
            yield pod
        finally:
            for container in pod.containers():
                _remove(container)
            if pod.volume is not None:
                _remove(pod.volume)
            remove_run_containers(self.client, run_id)

    def _labels(self, run_id: str, role: str) -> dict[str, str]:
        """Every container and volume of the grader: its run, session and role, and the grader process
        that owns it (`grader sandbox cleanup` removes only what a grader that is gone left behind)."""
        return {MANAGED_LABEL: "1", RUN_LABEL: run_id, SESSION_LABEL: self.session, "grader.role": role,
                "grader.version": __version__, **owner_labels()}

    def locked_down(self, run_id: str, role: str) -> dict[str, Any]:
        """Options every container of the pod shares."""
        return {
            "detach": True,
            "user": SANDBOX_UID,
            "read_only": True,
            "cap_drop": ["ALL"],
            "security_opt": ["no-new-privileges"],
            "labels": self._labels(run_id, role),
            "name": f"grader-{run_id}-{role}",
            "log_config": {"type": "json-file", "config": {"max-size": "1m", "max-file": "1"}},
        }

    def run_container(self, image: str | None, command: list[str], **options: Any) -> Any:
        """`containers.run`, tried again (up to START_ATTEMPTS in all) when the engine fails to start a
        container it just created ("OCI runtime start failed", "cannot start a stopped process": rare engine
        hiccups under load); the half-made container is removed first, so the name is free again."""
        for attempt in range(1, START_ATTEMPTS + 1):
            try:
                container = self.client.containers.run(image, command, **options)
                detail.debug("started container %s from %s: %s", options.get("name"), image, shlex.join(command))
                return container
            except docker_errors.APIError as exc:
                if attempt == START_ATTEMPTS or not _transient_start_failure(exc):
                    raise
                self.log(f"the engine failed to start {options.get('name')}; trying again ({exc.explanation})")
                with suppress(Exception):
                    self.client.containers.get(options["name"]).remove(force=True, v=True)
                time.sleep(0.2 * attempt)
        raise AssertionError("unreachable")

    def _data_volume(self, run_id: str, limits: Limits) -> Any:
        """The app's data dir: a size-capped tmpfs that outlives app restarts (the holder keeps it mounted)."""
        return self.client.volumes.create(
            name=f"grader-{run_id}-data", driver="local",
            driver_opts={"type": "tmpfs", "device": "tmpfs",
                         "o": f"size={limits.data_mb}m,uid=10001,gid=10001,mode=0700"},
            labels=self._labels(run_id, "data"),
        )

    def _start_holder(self, run_id: str, volume: str | None) -> Any:
        # The runner image, not the candidate's: a candidate wheel could shadow `sleep` on PATH.
        assert self._runner is not None
        volumes = {volume: {"bind": APP_DATA_DIR, "mode": "ro"}} if volume else {}
        return self.run_container(
            self._runner.tag, ["/bin/sleep", "infinity"], network_mode="none", mem_limit="32m", pids_limit=4,
            nano_cpus=100_000_000, volumes=volumes, **self.locked_down(run_id, "pod"),
        )

    def _start_holder_and_services(self, run_id: str, pod: _Pod, volume: str | None,
                                   requests: tuple[ServiceRequest, ...], limits: Limits) -> _StartedServices:
        """The pod's holder, then its services; the pod is made again (up to POD_ATTEMPTS in all) when the
        holder is found stopped meanwhile: under load the engine was seen to stop a fresh holder at once,
        and nothing can join the namespace of a stopped container."""
        for attempt in range(1, POD_ATTEMPTS + 1):
            pod.holder = self._start_holder(run_id, volume)
            try:
                return self._start_services(run_id, pod, requests, limits)
            except (docker_errors.APIError, SandboxError) as exc:
                if attempt == POD_ATTEMPTS or _state(pod.holder)["Status"] == "running":
                    raise
                self.log(f"the pod of run {run_id} stopped while its services started ({exc}); starting it again")
                # Every container of the run so far, half-made ones included (their names must be free again).
                for container in self.client.containers.list(all=True, filters={"label": f"{RUN_LABEL}={run_id}"}):
                    _remove(container)
                pod.services.clear()
        raise AssertionError("unreachable")

    def _start_services(self, run_id: str, pod: _Pod, requests: tuple[ServiceRequest, ...],
                        limits: Limits) -> _StartedServices:
        """Start each service in the pod's namespace, all at once, then wait until every one is ready.

        A service that does not come up is the grader's failure, not the candidate's: SandboxError.
        """
        started = _StartedServices()
        for request in requests:
            credentials = services.ServiceCredentials.new()
            pod.services.append(self._start_service(run_id, pod.holder.id, request, credentials, limits))
            started.app_env.update(services.app_variables(request.kind, credentials))
            started.runner_env.update(services.runner_variables(request.kind, credentials))
        deadline = time.monotonic() + max(limits.startup_timeout_s, SERVICE_READY_MIN_S)
        for request, container in zip(requests, pod.services, strict=True):
            _wait_for_service(request, container, deadline)
        return started

    def _start_service(self, run_id: str, holder_id: str, request: ServiceRequest,
                       credentials: services.ServiceCredentials, limits: Limits) -> Any:
        """One service container: the app's limits and hardening, its data on a tmpfs, nothing lasting."""
        data_mb = max(limits.data_mb, SERVICE_DATA_MIN_MB)
        return self.run_container(
            services.image_tag(request),
            services.start_command(request.kind),
            network_mode=f"container:{holder_id}",
            environment=services.service_environment(request.kind, credentials, limits.memory_mb),
            working_dir="/tmp",
            tmpfs={"/tmp": "size=16m,uid=10001,gid=10001,mode=1777",
                   services.DATA_DIR: f"size={data_mb}m,uid=10001,gid=10001,mode=0700"},
            init=True,
            mem_limit=f"{limits.memory_mb}m",
            memswap_limit=f"{limits.memory_mb}m",
            nano_cpus=int(limits.cpus * 1e9),
            pids_limit=max(limits.pids, SERVICE_PIDS_MIN),
            **self.locked_down(run_id, f"service-{request.kind}"),
        )

    def _start_app(self, run_id: str, holder_id: str, image: str, plan: RunPlan, volume: str,
                   services_env: dict[str, str]) -> Any:
        limits = plan.limits
        options = self.locked_down(run_id, "app")
        options["log_config"]["config"]["max-size"] = f"{log_cap_bytes(limits) // 1024}k"
        return self.run_container(
            image,
            ["/bin/sh", "-c", f"echo {shlex.quote(LOG_START)}; {plan.start_command}"],
            network_mode=f"container:{holder_id}",
            environment=app_environment_for(plan.app_env, plan.port, services_env),
            working_dir=APP_CODE_DIR,
            volumes={str(plan.snapshot): {"bind": APP_CODE_DIR, "mode": "ro"},
                     volume: {"bind": APP_DATA_DIR, "mode": "rw"}},
            tmpfs={"/tmp": "size=32m,uid=10001,gid=10001,mode=1777"},
            init=True,  # tini as PID 1: reaps zombies and forwards signals to the app
            mem_limit=f"{limits.memory_mb}m",
            memswap_limit=f"{limits.memory_mb}m",
            nano_cpus=int(limits.cpus * 1e9),
            pids_limit=limits.pids,
            **options,
        )

    def _start_runner(self, run_id: str, holder_id: str, plan: RunPlan, out_dir: Path,
                      services_env: dict[str, str]) -> Any:
        assert self._runner is not None
        app_url = f"http://127.0.0.1:{plan.port}"
        pytest_argv = [*HIDDEN_TESTS.command(CheckContext(RUNNER_TESTS, RUNNER_OUT, app_url=app_url)),
                       *plan.pytest_args]
        wait_argv = ["python", "-m", "checks.wait_for_app", app_url + plan.health_path,
                     str(plan.limits.startup_timeout_s)]
        script = (
            f"{shlex.join(wait_argv)} || exit {NOT_READY_EXIT}; "
            f": > {RUNNER_OUT}/{READY_MARKER}; exec {shlex.join(pytest_argv)}"
        )
        return self.run_container(
            self._runner.tag,
            ["/bin/sh", "-c", script],
            network_mode=f"container:{holder_id}",
            environment={"PYTHONPATH": RUNNER_LIB, "HOME": "/tmp", "PYTHONDONTWRITEBYTECODE": "1",
                         **runner_environment(f"{RUNNER_OUT}/{CONTROL_SUBDIR}", plan.health_path,
                                              plan.limits.startup_timeout_s),
                         **services_env},
            working_dir="/tmp",
            volumes={
                str(plan.tests_dir): {"bind": RUNNER_TESTS, "mode": "ro"},
                str(checks_dir()): {"bind": f"{RUNNER_LIB}/checks", "mode": "ro"},
                str(out_dir): {"bind": RUNNER_OUT, "mode": "rw"},
            },
            tmpfs={"/tmp": "size=64m,uid=10001,gid=10001,mode=1777"},
            mem_limit="512m",
            pids_limit=256,
            nano_cpus=1_000_000_000,
            **self.locked_down(run_id, "runner"),
        )

    def _supervise(self, pod: _Pod, plan: RunPlan, out_dir: Path, control: ControlServer) -> RunOutcome:
        """Watch runner and app until the runner ends, the app dies before health, or time runs out."""
        started = time.monotonic()
        deadline = started + plan.limits.startup_timeout_s + plan.limits.test_timeout_s + 10
        ready_at: float | None = None
        died_early = False
        timed_out = False
        peak_pids = _PeakPids(pod.app).start()
        while True:
            runner_state = _state(pod.runner)
            if ready_at is None and (out_dir / READY_MARKER).exists():
                ready_at = time.monotonic()
            if runner_state["Status"] == "exited":
                break
            if ready_at is None and _state(pod.app)["Status"] == "exited":
                died_early = True
                break
            if time.monotonic() > deadline:
                timed_out = True
                break
            control.serve()
            time.sleep(POLL_S)
        if ready_at is None and (out_dir / READY_MARKER).exists():
            ready_at = time.monotonic()
        peak_pids.stop()
        app_state = _state(pod.app)  # before anything is stopped: did the app die on its own?
        for container in (pod.runner, pod.app):
            _kill(container)  # nothing graceful is needed: logs and results survive a kill
        runner_exit = _state(pod.runner).get("ExitCode")
        seen: set[Limit] = set()
        if peak_pids.peak >= plan.limits.pids:
            seen.add("processes")
        if timed_out and ready_at is not None:
            seen.add("test_timeout")
        app = self._app_run(pod.app, app_state, plan.limits, ready_at, started, died_early, runner_exit, seen)
        report = out_dir / "hidden.json"
        problem = None
        if timed_out and not (ready_at is not None and report.exists()):
            problem = f"the hidden suite did not finish within {plan.limits.test_timeout_s:g} s"
        elif app.started and not report.exists():
            problem = f"the runner ended with exit code {runner_exit} without a report"
        tests_seconds = time.monotonic() - ready_at if ready_at else 0.0
        return RunOutcome(
            app=app,
            report=_copy_out(report, plan.output_dir) if report.exists() else None,
            runner_log=_logs(pod.runner)[-LOG_TAIL_CHARS:],
            runner_problem=problem,
            tests_seconds=round(tests_seconds, 3),
            findings=[],
        )

    def _app_run(
        self, app: Any, state: dict[str, Any], limits: Limits, ready_at: float | None, started: float,
        died_early: bool, runner_exit: int | None, seen: set[Limit],
    ) -> AppRun:
        raw_log = _logs(app)
        truncated = bool(raw_log) and LOG_START not in raw_log[: len(LOG_START) + 200]
        log = _without_start_line(raw_log)
        exit_code = state.get("ExitCode") if state.get("Status") == "exited" else None
        oom = bool(state.get("OOMKilled"))
        limits_hit = seen | limits_from_log(log)
        if oom:
            limits_hit.add("memory")
        if truncated:
            limits_hit.add("output")
        if ready_at is None and not (died_early or exit_code is not None) and runner_exit == NOT_READY_EXIT:
            limits_hit.add("startup_timeout")
        problem = None
        if ready_at is None:
            problem = _start_problem(limits, died_early or exit_code is not None, exit_code, oom, runner_exit)
            problem = _with_limits(problem, limits_hit - {"startup_timeout", "memory"}, limits)
        return AppRun(
            started=ready_at is not None,
            start_seconds=round(ready_at - started, 3) if ready_at else None,
            exit_code=exit_code,
            oom_killed=oom,
            log_tail=log[-LOG_TAIL_CHARS:],
            log_truncated=truncated,
            log_cap_bytes=log_cap_bytes(limits),
            limits_hit=ordered(limits_hit),
            problem=problem,
        )


# --- helpers ------------------------------------------------------------------------------------------


def environment_key(base_image_id: str, python: str, requirements: tuple[str, ...] | list[str]) -> str:
    """Hash of everything an environment image depends on."""
    payload = json.dumps([base_image_id, python, sorted(requirements), __version__])
    return hashlib.sha256(payload.encode()).hexdigest()


def _static_limits(job: StaticJob) -> dict[str, Any]:
    if job.where == "tools":  # the grader's own tools: mypy needs room on a large submission
        return {"mem_limit": "1536m", "memswap_limit": "1536m", "pids_limit": 256, "nano_cpus": 1_000_000_000}
    limits = job.limits
    return {"mem_limit": f"{limits.memory_mb}m", "memswap_limit": f"{limits.memory_mb}m",
            "pids_limit": limits.pids, "nano_cpus": int(limits.cpus * 1e9)}


def app_environment_for(app_env: dict[str, str], port: int,
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


def _without_start_line(log: str) -> str:
    """The app's log without the grader's start lines (one per start, restarts included): its own output only."""
    head, sep, rest = log.partition(LOG_START + "\n")
    own = rest if sep and not head.strip() else log
    return own.replace(LOG_START + "\n", "")


@dataclass
class _StartedServices:
    """The variables the started services give the app and, separately, the grader's runner."""

    app_env: dict[str, str] = field(default_factory=dict)
    runner_env: dict[str, str] = field(default_factory=dict)


def _wait_for_service(request: ServiceRequest, container: Any, deadline: float) -> None:
    """Wait for the service's ready line; raise SandboxError with its log when it dies or takes too long."""
    while True:
        log = _logs(container)
        if services.READY_LINE in log:
            return
        if _state(container)["Status"] == "exited" or time.monotonic() > deadline:
            what = "exited" if _state(container)["Status"] == "exited" else "was not ready in time"
            tail = log.strip()[-SERVICE_LOG_TAIL:] or "(no output)"
            raise SandboxError(f"the {request.kind} {request.version} service {what}: {tail}")
        time.sleep(POLL_S)


def _transient_start_failure(exc: Exception) -> bool:
    """An engine error on starting a fresh container that a second try usually does not meet."""
    text = str(getattr(exc, "explanation", "") or exc)
    return any(sign in text for sign in TRANSIENT_START_SIGNS)


def _restart(app: Any) -> None:
    """Stop the app (SIGTERM, then SIGKILL after a grace period) and start it again, with its data kept."""
    app.restart(timeout=RESTART_GRACE_S)


def _with_limits(problem: str, limits_hit: set[Limit], limits: Limits) -> str:
    """`problem`, followed by the limits the app ran into (the process limit with its number)."""
    if not limits_hit:
        return problem
    words = describe(limits_hit).replace("hit its process limit", f"hit its limit of {limits.pids} processes")
    return f"{problem} (the app {words})"


class _PeakPids:
    """The most processes the app container ran at once, sampled in a thread of its own.

    The cgroup's `pids.current` file is read when this host has it (instant); otherwise the engine's
    one-shot stats are asked, which takes about a second on some engines: in a thread, that never delays
    noticing the end of the hidden suite.
    """

    def __init__(self, container: Any) -> None:
        self.container = container
        self.peak = 0
        self._stopped = threading.Event()
        self._files = [Path(pattern.format(id=container.id)) for pattern in PIDS_CURRENT_FILES]
        self._thread = threading.Thread(target=self._loop, name="grader-peak-pids", daemon=True)

    def start(self) -> _PeakPids:
        self._thread.start()
        return self

    def stop(self) -> int:
        """Stop sampling (a last instant read where the cgroup file exists) and return the peak."""
        self._stopped.set()
        self._record(self._from_cgroup())
        return self.peak

    def _loop(self) -> None:
        while not self._stopped.is_set():
            current = self._from_cgroup()
            self._record(current if current is not None else self._from_stats())
            self._stopped.wait(STATS_EVERY_S)

    def _record(self, current: int | None) -> None:
        if current is not None:
            self.peak = max(self.peak, current)

    def _from_cgroup(self) -> int | None:
        for path in self._files:
            with suppress(OSError, ValueError):
                return int(path.read_text().strip())
        return None

    def _from_stats(self) -> int | None:
        try:
            stats = self.container.stats(stream=False, one_shot=True)
        except Exception:  # gone, or an engine without one-shot stats: the log signs still apply
            return None
        current = (stats.get("pids_stats") or {}).get("current")
        return current if isinstance(current, int) else None


def _start_problem(
    limits: Limits, exited: bool, exit_code: int | None, oom: bool, runner_exit: int | None
) -> str:
    if oom:
        return f"did not start: killed for exceeding the {limits.memory_mb} MB memory limit"
    if exited:
        return f"did not start: the app exited with code {exit_code} before answering its health path"
    if runner_exit == NOT_READY_EXIT:
        return f"did not start within {limits.startup_timeout_s:g} s: the health path never answered 2xx"
    return "did not start: the grader's runner stopped before the app answered"


@contextmanager
def _engine_errors_as_sandbox_errors() -> Iterator[None]:
    """An error the engine answers during one grading fails that grading (an error result naming it), not
    the whole batch."""
    try:
        yield
    except docker_errors.APIError as exc:
        raise SandboxError(f"the Docker engine failed during the grading: {exc.explanation or exc}") from None


@contextmanager
def _writable_output(target: Path) -> Iterator[Path]:
    """A private scratch dir the runner (uid 10001) may write; results are copied out afterwards."""
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="run-", dir=cache_dir("runs")) as scratch:
        out = Path(scratch) / "out"
        out.mkdir()
        out.chmod(0o777)
        yield out


def _copy_out(report: Path, target: Path) -> Path:
    destination = target / report.name
    destination.write_bytes(report.read_bytes())
    return destination


def _state(container: Any) -> dict[str, Any]:
    try:
        container.reload()
    except Exception:  # gone already: treat as exited
        return {"Status": "exited", "ExitCode": None}
    state: dict[str, Any] = container.attrs.get("State", {})
    return state


def _kill(container: Any) -> None:
    with suppress(Exception):  # already stopped or gone
        container.kill()


def _remove(resource: Any) -> None:
    """Remove a container (with its anonymous volumes) or a volume; already gone is fine."""
    with suppress(Exception):
        if hasattr(resource, "kill"):
            resource.remove(force=True, v=True)
        else:
            resource.remove(force=True)


def _logs(container: Any) -> str:
    try:
        raw: bytes = container.logs(stdout=True, stderr=True)
    except Exception:
        return ""
    return raw.decode("utf-8", errors="replace")


def remove_run_containers(client: Any, run_id: str | None = None, session: str | None = None) -> int:
    """Remove the grader's containers and data volumes of one run or of one session; returns how many
    containers. (Left-overs of other graders: `grader.sandbox.cleanup`.)

    A container that another thread removes while this lists them is skipped, not an error.
    """
    if not run_id and not session:
        raise ValueError("name the run or the session whose containers to remove")
    label = f"{RUN_LABEL}={run_id}" if run_id else f"{SESSION_LABEL}={session}"
    removed = 0
    for container in client.containers.list(all=True, filters={"label": label}, ignore_removed=True):
        _remove(container)
        removed += 1
    with suppress(Exception):  # an engine without volume filters: the run's own finally removed its volume
        for volume in client.volumes.list(filters={"label": label}):
            _remove(volume)
    return removed


def findings_for_isolation() -> list[Finding]:
    """Stated in every Docker result so a reader knows what the boundary was."""
    return [Finding(
        message="graded in Docker: no network, read-only root, non-root user, no capabilities, limits applied",
        severity=Severity.INFO, rule="sandbox",
    )]
