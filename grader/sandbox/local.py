"""The local backend: a cached venv per requirements set and the app as a plain child process.

This backend is for machines without Docker. It is NOT an isolation boundary: the candidate's app runs
as the grader's own user, sees this machine's filesystem and network, and can leave its process group
with `setsid()`. What it does give is hygiene and limits:

- a clean environment (nothing of the grader's environment leaks but PATH/LANG/TZ essentials);
- a fresh data dir (`$HOME`, `$DATA_DIR`, the SQLite `$DATABASE_URL`) that is removed afterwards;
- rlimits on the app (address space, file size, processes, CPU time, no core dumps);
- a teardown that kills the app's whole process group (and session), even on Ctrl-C.

Venvs are built offline from a wheels directory that the host filled beforehand (`pip --no-index`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

from checks.formats import (
    OTLP_PORT_ENV,
    UPSTREAM_PORT_ENV,
    StopOutcome,
    otlp_app_environment,
    own_tests_environment,
    with_upstream_port,
)
from grader.checks.spec import CheckContext, RunsIn
from grader.checks.static import write_plan
from grader.models import AppRun, Finding, Severity, WorkerRun
from grader.paths import checks_dir
from grader.processes import KILL_WAIT_S, ProcessGroup, kill_tagged, posix_groups
from grader.sandbox.base import (
    AppRunRequest,
    Environment,
    EnvironmentRequest,
    Environments,
    Foundation,
    RunOutcome,
    Sandbox,
    SandboxError,
    StaticJob,
    loopback_url,
    replica_runner_env,
)
from grader.sandbox.control import STOP_LOG_CHARS, ControlServer, exit_code_of
from grader.sandbox.evidence import Limit, limits_from_log, ordered, worker_problem
from grader.sandbox.health import wait_for_health
from grader.sandbox.local_env import app_environment, essential_env, free_port, temp_dir
from grader.sandbox.local_limits import app_rlimits, log_file_cap, rlimit_setter
from grader.sandbox.local_services import LocalServices
from grader.sandbox.local_suite import SuiteRun, run_suite
from grader.sandbox.services import ServiceRequest
from grader.sandbox.venvs import ask_version, ensure_venv, venv_of

LOG_TAIL_CHARS = 4000
HEALTH_SLICE_S = 0.5  # how often the health wait looks whether the app has already exited
# Every process of one run carries this variable: what left the app's process group and session (a
# double fork and setsid()) is still found by it in /proc and killed. Best effort: code that rewrites its
# own environment can hide from it, which is one reason this backend is not an isolation boundary.
RUN_TOKEN_VAR = "GRADER_RUN_TOKEN"


class LocalSandbox(Sandbox):
    """Run gradings in cached venvs and plain processes on this machine (not an isolation boundary)."""

    name = "local"
    isolated = False
    wheel_target = "host"

    def __init__(self, python: str | None = None, service_urls: Mapping[str, str] | None = None) -> None:
        """`python` is the interpreter venvs are made from (default: the one running the grader);
        `service_urls` names the PostgreSQL / Redis servers to use for challenges that declare services."""
        if not local_backend_supported():
            raise SandboxError("the local backend runs on Linux and macOS only (it needs POSIX process groups "
                               "and rlimits): use --sandbox docker with Docker Desktop on Windows")
        self.python = python or sys.executable
        self._version: str | None = None
        self.services = LocalServices(service_urls or {})

    def describe_services(self, services: tuple[ServiceRequest, ...]) -> dict[str, str]:
        """The servers named with `--service-url`; a clear error when the challenge needs one not named."""
        return self.services.describe(services)

    def foundation(self) -> Foundation:
        """The interpreter venvs are made from, and its major.minor (asked once)."""
        version = self.interpreter_version()
        return Foundation(kind="interpreter", name=self.python, identity=version, python=version)

    def build(self, foundation: Foundation, request: EnvironmentRequest) -> Environment:
        """The venv under the request's key if a complete one exists, else built offline from the wheels."""
        return ensure_venv(foundation.name, foundation.python, request)

    def check_context(self, runs_in: RunsIn, environments: Environments, input_dir: Path, output_dir: Path,
                      app_url: str = "") -> CheckContext:
        """Host paths; the grader's own interpreter runs its tools and the suite, the candidate's venv its tests."""
        python = sys.executable
        if runs_in == "candidate":
            python = str(venv_of(environments.candidate) / "bin" / "python")
        return CheckContext(str(input_dir), str(output_dir), python, app_url=app_url)

    def app_port(self, port: int) -> int:
        """A free port of this machine: the app shares the host's network with everything else."""
        return free_port()

    def replica_ports(self, port: int, count: int) -> tuple[int, ...]:
        """A free port of this machine per replica when there are several (`port` is then the proxy's)."""
        return tuple(free_port() for _ in range(count)) if count > 1 else ()

    def interpreter_version(self) -> str:
        """The venv interpreter's `major.minor`, asked once."""
        if self._version is None:
            self._version = ask_version(self.python)
        return self._version

    # --- run --------------------------------------------------------------------------------------

    def run(self, request: AppRunRequest) -> RunOutcome:
        """Start the app, wait for health, run the hidden suite, and always tear everything down."""
        venv = venv_of(request.environments.candidate)
        with contextlib.ExitStack() as stack:
            work = stack.enter_context(temp_dir("grader-local-"))
            data = stack.enter_context(temp_dir("grader-data-"))
            token = uuid.uuid4().hex
            services = stack.enter_context(self.services.provision(request.services))
            otlp_port = free_port()  # the runner's OTLP receiver: a port of this machine, free of other gradings
            upstream_port = free_port()  # where the suite's fake_upstream() serves, likewise
            app_env = {**otlp_app_environment(otlp_port), **services.app_env,
                       **with_upstream_port(dict(request.app_env), upstream_port)}
            env = {**app_environment(venv, data, request.port, app_env), RUN_TOKEN_VAR: token}
            log_path = work / "app.log"
            started_at = time.monotonic()
            # each replica's own: PORT, and `{port}` in the challenge's env, are its port
            replica_envs = [{**app_environment(venv, data, port, app_env), RUN_TOKEN_VAR: token}
                            for port in request.replica_ports]
            app = _LocalApp(request, env, replica_envs, log_path, work / "worker.log")
            stack.callback(app.stop)
            stack.callback(kill_run_survivors, token)
            ready, detail = app.wait_until_ready()
            start_seconds = round(time.monotonic() - started_at, 3)
            control = ControlServer.create(work / "control", restart=app.restart,
                                           read_log=lambda: read_log_tail(log_path, request.limits.log_bytes)[0],
                                           read_worker_log=app.read_worker_log if app.worker else None,
                                           stop=app.stop_with)
            runner_env = {**services.runner_env, OTLP_PORT_ENV: str(otlp_port), UPSTREAM_PORT_ENV: str(upstream_port),
                          **replica_runner_env(request)}
            suite = run_suite(request, work, control, runner_env) if ready else None
            died_code = app.exit_code()  # set only if an app process exited by itself before teardown
            worker_code = app.worker.poll() if app.worker else None  # likewise for the worker
            app.stop()
            survivors = kill_run_survivors(token)
            tail, truncated = read_log_tail(log_path, request.limits.log_bytes)
            worker = app.worker_run(worker_code)
        app_run = AppRun(
            started=ready,
            start_seconds=start_seconds if ready else None,
            exit_code=died_code,
            log_tail=tail,
            log_truncated=truncated,
            log_cap_bytes=log_file_cap(request.limits),
            limits_hit=_limits_hit(tail, truncated, ready, died_code, suite),
            problem=None if ready else _not_started_problem(died_code, request, detail),
            worker=worker,
            replicas=request.replicas if request.replicas > 1 else None,
        )
        return _outcome(app_run, suite, survivors)

    def run_static(self, job: StaticJob) -> None:
        """Run the job's plan as one child process group: the grader's own interpreter for its tools, the
        candidate's venv (with the app's environment and limits) for the candidate's own tests."""
        job.output_dir.mkdir(parents=True, exist_ok=True)
        with contextlib.ExitStack() as stack:
            work = stack.enter_context(temp_dir("grader-static-"))
            data = stack.enter_context(temp_dir("grader-data-"))
            write_plan(job.plan, job.output_dir)
            if job.where == "tools":
                env, preexec = {**essential_env(), "HOME": str(work)}, None
            else:
                venv = venv_of(job.environments.candidate)
                services = stack.enter_context(self.services.provision(job.services))
                # `{upstream_port}`: a free port nothing serves, so its own tests meet an unreachable upstream (and
                # the check is told which variables name it, to find the tests that called it for real)
                own_env = own_tests_environment(dict(job.app_env), free_port())
                env = app_environment(venv, data, free_port(), {**services.app_env, **own_env})
                preexec = rlimit_setter(app_rlimits(job.limits))
            token = uuid.uuid4().hex
            # TMPDIR in the work dir: what the check and the candidate's tests put in temporary folders (the
            # candidate_tests check runs the suite in a copy of the submission there) goes when the work dir
            # does, even when the run was killed before it could clean up.
            env.update(PYTHONPATH=str(checks_dir().parent), PYTHONDONTWRITEBYTECODE="1", TMPDIR=str(work),
                       **{RUN_TOKEN_VAR: token})
            runner = ProcessGroup.start(job.argv, cwd=work, env=env, preexec=preexec)
            stack.callback(kill_run_survivors, token)
            stack.callback(runner.stop, 0)
            runner.wait(job.timeout_s)  # what finished in time is kept


def local_backend_supported() -> bool:
    """Whether this system has what the local backend relies on: process groups, sessions and rlimits."""
    return sys.platform != "win32" and posix_groups()


def kill_run_survivors(token: str) -> list[int]:
    """SIGKILL every process of this user that still carries the run's token; returns their pids."""
    return kill_tagged(RUN_TOKEN_VAR, token)


# --- the app process ------------------------------------------------------------------------------


class _LocalApp:
    """The app's processes (one per replica, each its own process group on its own port) and its worker's (when
    the submission declares one), which the suite may ask to restart (same commands, environment and data dir);
    the worker is stopped with the app."""

    def __init__(self, request: AppRunRequest, env: Mapping[str, str], replica_envs: Sequence[Mapping[str, str]],
                 log_path: Path, worker_log: Path) -> None:
        self.request, self.env, self.log_path, self.worker_log = request, env, log_path, worker_log
        # One replica: the app on the request's port, exactly as before. Several: every replica writes to the
        # same log (appending), on its own port, the runner's proxy on the request's port.
        self.envs = [dict(replica_env) for replica_env in replica_envs] or [dict(env)]
        self.processes = self._start_replicas(append=False)
        self.worker: ProcessGroup | None = None
        if request.worker_command:
            self.worker = _start_command(request.worker_command, "worker", request, env, worker_log)

    def _start_replicas(self, append: bool) -> list[ProcessGroup]:
        if len(self.envs) > 1 and not append:
            # Emptied once, then every replica appends (O_APPEND): none writes over another's output.
            self.log_path.write_bytes(b"")
            append = True
        return [_start_app(self.request, env, self.log_path, append=append) for env in self.envs]

    def health_urls(self) -> list[str]:
        """Each replica's health URL (the app's own with one replica)."""
        return [loopback_url(int(env["PORT"])) + self.request.health_path for env in self.envs]

    def wait_until_ready(self) -> tuple[bool, str]:
        """Wait until every replica answers its health path, within the one startup timeout."""
        deadline = time.monotonic() + self.request.limits.startup_timeout_s
        detail = "no answer yet"
        for process, url in zip(self.processes, self.health_urls(), strict=True):
            ready, detail = wait_until_ready(process, url, max(0.0, deadline - time.monotonic()))
            if not ready:
                return False, detail
        return True, detail

    def exit_code(self) -> int | None:
        """The exit code of the first app process that has ended by itself (any replica's), else None."""
        return next((code for code in (process.poll() for process in self.processes) if code is not None), None)

    def restart(self) -> None:
        """Stop every process group (SIGTERM, then SIGKILL) and start them again, appending to their logs."""
        self.stop()
        self.processes = self._start_replicas(append=True)
        if self.request.worker_command:
            self.worker = _start_command(self.request.worker_command, "worker", self.request, self.env,
                                         self.worker_log, append=True)

    def stop_with(self, signum: signal.Signals, grace_s: float) -> tuple[StopOutcome, StopOutcome | None]:
        """Send `signum` to every process group (each replica's and the worker's), SIGKILL what is left after
        `grace_s`, report how the app (its first replica) and the worker ended, and start them all again
        (appending to their logs)."""
        groups = [(process, self.log_path) for process in self.processes]
        if self.worker is not None:
            groups.append((self.worker, self.worker_log))
        offsets = [_size(log) for _, log in groups]
        for group, _ in groups:
            group.send(signum)
        deadline = time.monotonic() + grace_s
        outcomes = [_ended(group, deadline, log, offset) for (group, log), offset in zip(groups, offsets, strict=True)]
        self.restart()
        return outcomes[0], outcomes[-1] if self.worker is not None else None

    def stop(self) -> None:
        """Stop the app's replicas and its worker."""
        for process in self.processes:
            process.stop()
        if self.worker is not None:
            self.worker.stop()

    def read_worker_log(self) -> str:
        """The worker's output so far (capped like the app's)."""
        return read_log_tail(self.worker_log, self.request.limits.log_bytes)[0]

    def worker_run(self, exit_code: int | None) -> WorkerRun | None:
        """What became of the worker: `exit_code` is set when it ended by itself before teardown."""
        if not self.request.worker_command:
            return None
        return WorkerRun(command=self.request.worker_command, exit_code=exit_code, log_tail=self.read_worker_log(),
                         problem=worker_problem(exit_code, False, self.request.limits.memory_mb))


def _ended(group: ProcessGroup, deadline: float, log: Path, offset: int) -> StopOutcome:
    """Wait until `deadline` for the whole group to be gone (the signal reached every process of it, so a
    server under a shell that did not `exec` it drains too), SIGKILL what is left, and say how it ended; the
    exit code is the leader's."""
    exited = group.gone_within(max(0.0, deadline - time.monotonic()))
    group.stop(grace_s=0)
    # wait, not poll: poll answers None while another thread is inside waitpid on the same process (CPython's
    # lock), and a leader dead but not yet reaped read as "no exit code" under load.
    return {"exited": exited, "exit_code": exit_code_of(group.wait(KILL_WAIT_S)), "log": _read_from(log, offset)}


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _read_from(path: Path, offset: int) -> str:
    """What `path` holds from byte `offset` on (its last STOP_LOG_CHARS characters)."""
    try:
        with path.open("rb") as file:
            file.seek(offset)
            data = file.read()
    except OSError:
        return ""
    return data.decode("utf-8", errors="replace")[-STOP_LOG_CHARS:]


def _start_app(request: AppRunRequest, env: Mapping[str, str], log_path: Path, append: bool = False
               ) -> ProcessGroup:
    """Start the app in its own session and process group, its output going to `log_path`."""
    return _start_command(request.start_command, "app", request, env, log_path, append)


def _start_command(command: str, what: str, request: AppRunRequest, env: Mapping[str, str], log_path: Path,
                   append: bool = False) -> ProcessGroup:
    """Start `command` (the app's or the worker's) in its own session and process group, with the app's
    limits, its output going to `log_path`."""
    with log_path.open("ab" if append else "wb") as log:
        try:
            return ProcessGroup.start(["/bin/sh", "-c", command], cwd=request.snapshot, env=env,
                                      stdout=log, stderr="stdout", preexec=rlimit_setter(app_rlimits(request.limits)))
        except OSError as exc:
            raise SandboxError(f"could not start the {what}'s command: {exc}") from exc


def wait_until_ready(process: ProcessGroup, url: str, timeout_s: float) -> tuple[bool, str]:
    """Poll `url` until it answers 2xx, `timeout_s` passes, or `process` exits; (ready, last detail)."""
    deadline = time.monotonic() + timeout_s
    detail = "no answer yet"
    while process.poll() is None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        ready, detail = wait_for_health(url, min(HEALTH_SLICE_S, remaining))
        if ready:
            return True, detail
    return False, detail


def _not_started_problem(exit_code: int | None, request: AppRunRequest, detail: str) -> str:
    if exit_code is None:
        return f"did not start within {request.limits.startup_timeout_s:g}s (health check: {detail})"
    how = f"was killed by {_signal_name(-exit_code)}" if exit_code < 0 else f"exited with code {exit_code}"
    return f"did not start: {how} before answering {request.health_path}"


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def read_log_tail(path: Path, cap_bytes: int) -> tuple[str, bool]:
    """(last ~4000 chars of the last `cap_bytes` of the log, whether the log was longer than the cap)."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return "", False
    with path.open("rb") as log:
        log.seek(max(0, size - cap_bytes))
        data = log.read(cap_bytes)
    return data.decode("utf-8", errors="replace")[-LOG_TAIL_CHARS:], size > cap_bytes


# --- outcome ----------------------------------------------------------------------------------------


def _limits_hit(log: str, truncated: bool, ready: bool, died_code: int | None, suite: SuiteRun | None) -> list[Limit]:
    seen: set[Limit] = limits_from_log(log)
    if truncated:
        seen.add("output")
    if not ready and died_code is None:
        seen.add("startup_timeout")
    if suite is not None and suite.timed_out:
        seen.add("test_timeout")
    return ordered(seen)


def _outcome(app_run: AppRun, suite: SuiteRun | None, survivors: Sequence[int] = ()) -> RunOutcome:
    findings = local_findings()
    if survivors:
        findings.append(Finding(
            message=f"{len(survivors)} process(es) of the app left its process group and session; they were "
            "found by the run's token and killed (code that hides that token would outlive the grading)",
            severity=Severity.WARNING, rule="sandbox.local.escaped-processes",
        ))
    return RunOutcome(
        app=app_run,
        report=suite.report if suite else None,
        runner_log=suite.log if suite else "",
        runner_problem=suite.problem if suite else None,
        tests_seconds=suite.seconds if suite else 0.0,
        findings=tuple(findings),
    )


def local_findings() -> list[Finding]:
    """What every local run must say about itself: no isolation, and no pids limit for root."""
    findings = [
        Finding(
            message="the local backend is not an isolation boundary: the app ran as this machine's user, "
            "with its filesystem and network",
            severity=Severity.INFO,
            rule="sandbox.local.not-isolated",
        )
    ]
    if os.geteuid() == 0:
        findings.append(
            Finding(
                message="the grader ran as root, so the pids limit (RLIMIT_NPROC) was not enforced "
                "on the app",
                severity=Severity.INFO,
                rule="sandbox.local.root-pids",
            )
        )
    if sys.platform == "darwin":
        findings.append(Finding(
            message="on macOS the local backend applies no memory or process-count limit to the app "
            "(RLIMIT_AS is not enforced there and there is no /proc to count processes)",
            severity=Severity.INFO, rule="sandbox.local.macos-limits",
        ))
    return findings
