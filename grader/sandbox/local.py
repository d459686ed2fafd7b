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
import hashlib
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import grader
from grader.checks.registry import HIDDEN_TESTS
from grader.checks.spec import CheckContext
from grader.checks.static import plan_timeout, write_plan
from grader.checks.suite import REPORT_NAME
from grader.filelocks import file_lock
from grader.models import AppRun, Finding, Limits, Severity
from grader.paths import cache_dir, checks_dir
from grader.sandbox.base import (
    Environment,
    EnvironmentRequest,
    RunOutcome,
    RunPlan,
    Sandbox,
    SandboxError,
    StaticJob,
)
from grader.sandbox.control import ControlServer, runner_environment
from grader.sandbox.evidence import Limit, limits_from_log, ordered
from grader.sandbox.health import wait_for_health
from grader.sandbox.local_services import LocalServices
from grader.sandbox.services import ServiceRequest

MARKER_NAME = ".grader-complete"  # written last: a venv without it is an unfinished build
REQUIREMENTS_NAME = "grader-requirements.txt"
LOG_TAIL_CHARS = 4000
RUNNER_LOG_CHARS = 20_000
MIB = 1024 * 1024
# RLIMIT_AS caps *virtual* address space per process, which overcounts real memory use a lot: every
# thread reserves a stack (8 MiB), glibc reserves up to 64 MiB per malloc arena, and shared libraries
# are mapped whole. A cap equal to memory_mb would stop ordinary apps from starting, so allow 4x.
ADDRESS_SPACE_FACTOR = 4
CPU_HARD_GRACE_S = 5  # between SIGXCPU (soft limit) and SIGKILL (hard limit)
TERM_GRACE_S = 3.0
SUITE_POLL_S = 0.1  # how often the running suite is checked on and its control requests answered
KILL_WAIT_S = 3.0
HEALTH_SLICE_S = 0.5  # how often the health wait looks whether the app has already exited
VENV_TIMEOUT_S = 300.0
PIP_TIMEOUT_S = 900.0
ESSENTIAL_ENV = ("LANG", "LC_ALL", "TZ")
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

    # --- prepare ----------------------------------------------------------------------------------

    def prepare(self, request: EnvironmentRequest) -> Environment:
        """Reuse the venv for these requirements if a complete one exists, else build it offline."""
        version = self.interpreter_version()
        key = environment_key(version, request.requirements)
        venv = cache_dir("venvs") / key
        warning = _version_warning(request.python, version)
        reuse_reason = f"reused venv {key[:12]}: same requirements{warning}"
        if _venv_complete(venv):
            return _environment(key, version, venv, True, reuse_reason)
        with file_lock(f"venv-{key}"):
            if _venv_complete(venv):  # another grader finished it while we waited for the lock
                return _environment(key, version, venv, True, reuse_reason)
            leftover = venv.exists()
            self._build(venv, request, key, version)
        why = "the previous build was incomplete" if leftover else "no venv with these requirements yet"
        return _environment(key, version, venv, False, f"built venv {key[:12]}: {why}{warning}")

    def interpreter_version(self) -> str:
        """The venv interpreter's `major.minor`, asked once."""
        if self._version is None:
            self._version = _ask_version(self.python)
        return self._version

    def _build(self, venv: Path, request: EnvironmentRequest, key: str, version: str) -> None:
        """Build the venv in place (venvs are not relocatable) and write the marker last."""
        _remove_tree(venv)
        try:
            _create_venv(self.python, venv, with_pip=bool(request.requirements))
            if request.requirements:
                _pip_install(venv, request.requirements, request.wheels_dir, key)
            _write_marker(venv, _marker_payload(request, key, version))
        except BaseException:
            _remove_tree(venv)
            raise

    # --- run --------------------------------------------------------------------------------------

    def run(self, environment: Environment, plan: RunPlan) -> RunOutcome:
        """Start the app, wait for health, run the hidden suite, and always tear everything down."""
        venv = _venv_of(environment)
        with contextlib.ExitStack() as stack:
            work = stack.enter_context(_temp_dir("grader-local-"))
            data = stack.enter_context(_temp_dir("grader-data-"))
            port = free_port()
            token = uuid.uuid4().hex
            services = stack.enter_context(self.services.provision(plan.services))
            env = {**app_environment(venv, data, port, {**services.app_env, **plan.app_env}), RUN_TOKEN_VAR: token}
            log_path = work / "app.log"
            started_at = time.monotonic()
            app = _LocalApp(plan, env, log_path)
            stack.callback(lambda: stop_process_group(app.process))
            stack.callback(kill_run_survivors, token)
            url = f"http://127.0.0.1:{port}"
            ready, detail = wait_until_ready(app.process, url + plan.health_path, plan.limits.startup_timeout_s)
            start_seconds = round(time.monotonic() - started_at, 3)
            control = ControlServer.create(work / "control", restart=app.restart,
                                           read_log=lambda: read_log_tail(log_path, plan.limits.log_bytes)[0])
            suite = _run_suite(plan, url, work, control, services.runner_env) if ready else None
            died_code = app.process.poll()  # set only if the app exited by itself before teardown
            stop_process_group(app.process)
            survivors = kill_run_survivors(token)
            tail, truncated = read_log_tail(log_path, plan.limits.log_bytes)
        app_run = AppRun(
            started=ready,
            start_seconds=start_seconds if ready else None,
            exit_code=died_code,
            log_tail=tail,
            log_truncated=truncated,
            log_cap_bytes=log_file_cap(plan.limits),
            limits_hit=_limits_hit(tail, truncated, ready, died_code, suite),
            problem=None if ready else _not_started_problem(died_code, plan, detail),
        )
        return _outcome(app_run, suite, survivors)


    def run_static(self, environment: Environment, job: StaticJob) -> None:
        """Run the job's checks as one child process group: the grader's own interpreter for its tools,
        the candidate's venv (with the app's environment and limits) for the candidate's own tests."""
        venv = _venv_of(environment)
        python = sys.executable if job.where == "tools" else str(venv / "bin" / "python")
        job.output_dir.mkdir(parents=True, exist_ok=True)
        with contextlib.ExitStack() as stack:
            work = stack.enter_context(_temp_dir("grader-static-"))
            data = stack.enter_context(_temp_dir("grader-data-"))
            plan = write_plan(job.checks, CheckContext(str(job.snapshot), str(job.output_dir), python),
                              job.output_dir)
            if job.where == "tools":
                env, preexec = {**_essential_env(), "HOME": str(work)}, None
            else:
                services = stack.enter_context(self.services.provision(job.services))
                env = app_environment(venv, data, free_port(), {**services.app_env, **job.app_env})
                preexec = _rlimit_setter(app_rlimits(job.limits))
            token = uuid.uuid4().hex
            env.update(PYTHONPATH=str(checks_dir().parent), PYTHONDONTWRITEBYTECODE="1", **{RUN_TOKEN_VAR: token})
            runner = subprocess.Popen(
                [python, "-m", "checks.run_plan", str(plan)], cwd=work, env=env, stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, preexec_fn=preexec,
            )
            stack.callback(kill_run_survivors, token)
            stack.callback(stop_process_group, runner, 0)
            with contextlib.suppress(subprocess.TimeoutExpired):  # what finished in time is kept
                runner.wait(timeout=plan_timeout(job.checks))


def local_backend_supported() -> bool:
    """Whether this system has what the local backend relies on: process groups, sessions and rlimits."""
    return sys.platform != "win32" and hasattr(os, "killpg")


# --- environment key and venv building -----------------------------------------------------------


def environment_key(python_version: str, requirements: Sequence[str]) -> str:
    """sha256 over the interpreter's major.minor, the sorted requirements and the grader version."""
    payload = {"python": python_version, "requirements": sorted(requirements), "grader": grader.__version__}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _ask_version(python: str) -> str:
    code = "import sys; print('%d.%d' % sys.version_info[:2])"
    try:
        result = subprocess.run(
            [python, "-c", code], capture_output=True, text=True, timeout=60, env=_essential_env()
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SandboxError(f"cannot run the Python interpreter {python}: {exc}") from exc
    if result.returncode != 0:
        raise SandboxError(f"the Python interpreter {python} failed: {_last_error_line(result.stderr)}")
    return result.stdout.strip()


def _version_warning(requested: str, actual: str) -> str:
    if requested == actual:
        return ""
    return f"; warning: the challenge asks for Python {requested} but the local interpreter is {actual}"


def _venv_complete(venv: Path) -> bool:
    # `exists()` follows the interpreter symlink: a venv whose base interpreter is gone is not usable.
    return (venv / MARKER_NAME).is_file() and (venv / "bin" / "python").exists()


def _environment(key: str, version: str, venv: Path, reused: bool, reason: str) -> Environment:
    return Environment(backend="local", key=key, python=version, reused=reused, venv=venv, reason=reason)


def _create_venv(python: str, venv: Path, with_pip: bool) -> None:
    # A venv without requirements needs no pip, and skipping ensurepip saves seconds per build.
    command = [python, "-m", "venv", *(() if with_pip else ("--without-pip",)), str(venv)]
    result = _run_tool(command, VENV_TIMEOUT_S, "create the venv")
    if result.returncode != 0:
        detail = _last_error_line(result.stdout + result.stderr)
        raise SandboxError(f"could not create a venv with {python}: {detail}")


def _pip_install(venv: Path, requirements: Sequence[str], wheels_dir: Path | None, key: str) -> None:
    if wheels_dir is None:
        raise SandboxError(
            f"the local backend needs a wheels directory to install {len(requirements)} requirements offline"
        )
    reqfile = venv / REQUIREMENTS_NAME
    reqfile.write_text("".join(f"{line}\n" for line in requirements))
    command = [
        str(venv / "bin" / "python"), "-m", "pip", "install", "--no-index", "--find-links", str(wheels_dir),
        "--only-binary=:all:", "--no-cache-dir", "--no-deps",  # never build (run) an sdist here
        "-r", str(reqfile),  # the whole resolution, exact pins (grader.resolve)
    ]
    result = _run_tool(command, PIP_TIMEOUT_S, "install the requirements")
    if result.returncode != 0:
        detail = _last_error_line(result.stdout + result.stderr)
        raise SandboxError(f"pip could not install the requirements into venv {key[:12]}: {detail}")


def _run_tool(command: Sequence[str], timeout_s: float, what: str) -> subprocess.CompletedProcess[str]:
    env = _essential_env()
    env.update(PIP_NO_INPUT="1", PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_CONFIG_FILE=os.devnull)
    try:
        return subprocess.run(
            list(command), capture_output=True, text=True, timeout=timeout_s, env=env,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        raise SandboxError(f"could not {what}: it took longer than {timeout_s:g}s") from exc
    except OSError as exc:
        raise SandboxError(f"could not {what}: {exc}") from exc


def _last_error_line(output: str) -> str:
    """The last `ERROR:` line of a tool's output, else its last non-empty line."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("ERROR:")]
    if errors:
        return errors[-1]
    return lines[-1] if lines else "no output"


def _marker_payload(request: EnvironmentRequest, key: str, version: str) -> dict[str, object]:
    return {
        "key": key,
        "python": request.python,
        "interpreter": version,
        "requirements": list(request.requirements),
        "wheels_dir": str(request.wheels_dir) if request.wheels_dir else None,
        "grader_version": grader.__version__,
    }


def _write_marker(venv: Path, payload: Mapping[str, object]) -> None:
    tmp = venv / f"{MARKER_NAME}.tmp"
    tmp.write_text(json.dumps(payload, indent=2))
    tmp.replace(venv / MARKER_NAME)


def _venv_of(environment: Environment) -> Path:
    if environment.backend != "local" or environment.venv is None:
        raise SandboxError(f"the local backend cannot run in a {environment.backend} environment")
    return environment.venv


# --- process environment --------------------------------------------------------------------------


def _essential_env() -> dict[str, str]:
    env = {name: os.environ[name] for name in ESSENTIAL_ENV if os.environ.get(name)}
    env.setdefault("LANG", "C.UTF-8")
    env["PATH"] = system_path()
    return env


def system_path() -> str:
    """This machine's PATH without the grader's own venv (so the app cannot pick up the grader's tools)."""
    own_bins = {str(Path(sys.prefix) / "bin")} if sys.prefix != sys.base_prefix else set()
    if os.environ.get("VIRTUAL_ENV"):
        own_bins.add(str(Path(os.environ["VIRTUAL_ENV"]) / "bin"))
    entries = os.environ.get("PATH", os.defpath).split(os.pathsep)
    return os.pathsep.join(entry for entry in entries if entry and entry not in own_bins) or os.defpath


def app_environment(venv: Path, data_dir: Path, port: int, extra: Mapping[str, str]) -> dict[str, str]:
    """The app's whole environment; `{data_dir}` and `{port}` in `extra`'s values are filled in."""
    env = _essential_env()
    env.update(
        PATH=f"{venv / 'bin'}{os.pathsep}{env['PATH']}",
        VIRTUAL_ENV=str(venv),
        HOME=str(data_dir),
        PORT=str(port),
        DATA_DIR=str(data_dir),
        DATABASE_URL=f"sqlite:///{data_dir / 'app.db'}",  # absolute path: four slashes
        PYTHONDONTWRITEBYTECODE="1",
        PYTHONUNBUFFERED="1",
    )
    for name, value in extra.items():
        env[name] = value.replace("{data_dir}", str(data_dir)).replace("{port}", str(port))
    return env


def free_port() -> int:
    """A port on 127.0.0.1 that was free a moment ago (the plan's port could clash on a shared host)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.contextmanager
def _temp_dir(prefix: str) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix=prefix)).resolve()
    try:
        yield path
    finally:
        _remove_tree(path)


def _remove_tree(path: Path) -> None:
    """Remove `path`, also when the app left read-only directories in it."""
    if not path.exists():
        return
    shutil.rmtree(path, ignore_errors=True)
    if path.exists():
        for root, dirs, _files in os.walk(path):
            for name in dirs:
                with contextlib.suppress(OSError):
                    os.chmod(os.path.join(root, name), 0o700)
        shutil.rmtree(path, ignore_errors=True)


# --- limits -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RLimit:
    """One rlimit to set in the app process (already clamped to the current hard limit)."""

    resource: int
    soft: int
    hard: int


def log_file_cap(limits: Limits) -> int:
    """RLIMIT_FSIZE: no file the app writes, its log included, grows past this many bytes."""
    return max(limits.data_mb * MIB, limits.log_bytes)


def app_rlimits(limits: Limits) -> list[RLimit]:
    """The rlimits for the app: address space, file size, processes, CPU time and no core dumps.

    macOS does not enforce RLIMIT_AS and refuses to lower it below what a process already maps, so
    there the memory limit is left out (the result says so).
    """
    import resource  # POSIX only: the local backend does not run on Windows

    cpu = math.ceil(limits.startup_timeout_s + limits.test_timeout_s)
    wanted: list[tuple[int, int, int | None]] = [] if sys.platform == "darwin" else [
        (resource.RLIMIT_AS, limits.memory_mb * MIB * ADDRESS_SPACE_FACTOR, None),
    ]
    wanted += [
        (resource.RLIMIT_FSIZE, log_file_cap(limits), None),
        (resource.RLIMIT_CPU, cpu, cpu + CPU_HARD_GRACE_S),
        (resource.RLIMIT_CORE, 0, None),
    ]
    running = _tasks_of_user(os.getuid())
    if running is not None:
        # RLIMIT_NPROC counts every task (process or thread) of the real user, not just the app's:
        # the app gets `pids` on top of what this user already runs. Root is exempt from it.
        wanted.append((resource.RLIMIT_NPROC, running + limits.pids, None))
    return [_clamped(kind, soft, hard) for kind, soft, hard in wanted]


def _clamped(kind: int, soft: int, hard: int | None) -> RLimit:
    import resource

    _current_soft, current_hard = resource.getrlimit(kind)
    hard = soft if hard is None else hard
    if current_hard != resource.RLIM_INFINITY:
        soft, hard = min(soft, current_hard), min(hard, current_hard)
    return RLimit(kind, soft, hard)


def _tasks_of_user(uid: int) -> int | None:
    """How many tasks (threads included) `uid` runs, from /proc; None where /proc is not there."""
    proc = Path("/proc")
    if not (proc / "self" / "status").exists():
        return None
    total = 0
    for entry in proc.iterdir():
        if entry.name.isdigit():
            total += _task_count(entry / "status", uid)
    return total


def _task_count(status_file: Path, uid: int) -> int:
    try:
        lines = status_file.read_text().splitlines()
    except OSError:
        return 0
    fields: dict[str, str] = {}
    for line in lines:
        name, _, value = line.partition(":")
        fields[name] = value
    if int(fields.get("Uid", "-1").split()[0]) != uid:
        return 0
    return int(fields.get("Threads", "1").strip())


def _rlimit_setter(rlimits: Sequence[RLimit]) -> Callable[[], None]:
    import resource

    def apply() -> None:  # runs in the forked child before exec: keep it to plain system calls
        for limit in rlimits:
            resource.setrlimit(limit.resource, (limit.soft, limit.hard))

    return apply


# --- the app process ------------------------------------------------------------------------------


class _LocalApp:
    """The app's process, which the suite may ask to restart (same command, environment and data dir)."""

    def __init__(self, plan: RunPlan, env: Mapping[str, str], log_path: Path) -> None:
        self.plan, self.env, self.log_path = plan, env, log_path
        self.process = _start_app(plan, env, log_path)

    def restart(self) -> None:
        """Stop the app's process group (SIGTERM, then SIGKILL) and start it again, appending to its log."""
        stop_process_group(self.process)
        self.process = _start_app(self.plan, self.env, self.log_path, append=True)


def _start_app(
    plan: RunPlan, env: Mapping[str, str], log_path: Path, append: bool = False
) -> subprocess.Popen[bytes]:
    """Start the app in its own session and process group, its output going to `log_path`."""
    with log_path.open("ab" if append else "wb") as log:
        try:
            return subprocess.Popen(
                ["/bin/sh", "-c", plan.start_command],
                cwd=plan.snapshot,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_rlimit_setter(app_rlimits(plan.limits)),
            )
        except (OSError, subprocess.SubprocessError) as exc:
            raise SandboxError(f"could not start the app's command: {exc}") from exc


def wait_until_ready(process: subprocess.Popen[bytes], url: str, timeout_s: float) -> tuple[bool, str]:
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


def _not_started_problem(exit_code: int | None, plan: RunPlan, detail: str) -> str:
    if exit_code is None:
        return f"did not start within {plan.limits.startup_timeout_s:g}s (health check: {detail})"
    how = f"was killed by {_signal_name(-exit_code)}" if exit_code < 0 else f"exited with code {exit_code}"
    return f"did not start: {how} before answering {plan.health_path}"


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


def stop_process_group(process: subprocess.Popen[bytes], grace_s: float = TERM_GRACE_S) -> None:
    """SIGTERM the process's group and session, wait up to `grace_s`, then SIGKILL what is left.

    `process` must have been started with `start_new_session=True`, so its pid is the group and session
    id. Safe to call more than once.
    """
    pgid = process.pid
    if grace_s > 0:
        _signal_group(pgid, signal.SIGTERM)
        if _wait_group_gone(process, pgid, grace_s):
            return
    _signal_group(pgid, signal.SIGKILL)
    _wait_group_gone(process, pgid, KILL_WAIT_S)


def _wait_group_gone(process: subprocess.Popen[bytes], pgid: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while True:
        process.poll()  # reap the leader, or it lingers as a zombie
        if not group_members(pgid):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)
    for pid in group_members(pgid):  # members that moved to another group of the same session
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signum)


def group_members(pgid: int) -> set[int]:
    """Live (non-zombie) processes in process group or session `pgid`.

    Reads /proc where it exists (zombies waiting for a parent to reap them do not count); elsewhere
    falls back to asking the kernel whether the group still has any process.
    """
    proc = Path("/proc")
    if not (proc / "self" / "stat").exists():
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return set()
        except PermissionError:
            pass
        return {pgid}
    members = set()
    for entry in proc.iterdir():
        if entry.name.isdigit() and _in_group(entry / "stat", pgid):
            members.add(int(entry.name))
    return members


def kill_run_survivors(token: str) -> list[int]:
    """SIGKILL every process of this user that still carries the run's token; returns their pids.

    Catches what escaped the process group and session (a double fork with setsid()). Repeated until
    none is left, since a survivor may fork while it is being killed.
    """
    killed: list[int] = []
    needle = f"{RUN_TOKEN_VAR}={token}".encode()
    for _ in range(20):
        found = [pid for pid in _own_pids() if _environ_has(pid, needle)]
        if not found:
            break
        for pid in found:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        killed.extend(pid for pid in found if pid not in killed)
        time.sleep(0.05)
    return killed


def _own_pids() -> list[int]:
    """Live processes of this user, but not this process (the grader never carries a run token)."""
    proc = Path("/proc")
    if not (proc / "self" / "environ").exists():
        return []
    me, uid = os.getpid(), os.getuid()
    pids = []
    for entry in proc.iterdir():
        if entry.name.isdigit() and int(entry.name) != me:
            with contextlib.suppress(OSError):
                if entry.stat().st_uid == uid and _is_live(entry / "stat"):
                    pids.append(int(entry.name))
    return pids


def _environ_has(pid: int, needle: bytes) -> bool:
    try:
        return needle in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return False


def _is_live(stat_file: Path) -> bool:
    """Whether the process exists and is not a zombie."""
    try:
        text = stat_file.read_text()
    except OSError:
        return False
    fields = text[text.rfind(")") + 2 :].split()
    return bool(fields) and fields[0] not in ("Z", "X")


def _in_group(stat_file: Path, pgid: int) -> bool:
    try:
        text = stat_file.read_text()
    except OSError:
        return False
    # "pid (comm) state ppid pgrp session ...": comm may hold spaces and parentheses.
    fields = text[text.rfind(")") + 2 :].split()
    if len(fields) < 4 or fields[0] in ("Z", "X"):
        return False
    return pgid in (int(fields[2]), int(fields[3]))


# --- the hidden suite -------------------------------------------------------------------------------


@dataclass
class SuiteRun:
    """What running the hidden suite produced."""

    report: Path | None
    log: str
    problem: str | None
    seconds: float
    timed_out: bool = False


def _run_suite(plan: RunPlan, app_url: str, work: Path, control: ControlServer,
               services_env: Mapping[str, str]) -> SuiteRun:
    """Run the hidden suite with the grader's interpreter against `app_url`, within the test timeout."""
    report = plan.output_dir / REPORT_NAME
    plan.output_dir.mkdir(parents=True, exist_ok=True)
    report.unlink(missing_ok=True)  # a report left by an earlier run must not pass for this one
    command = _suite_command(plan, app_url, report)
    cwd = work / "runner"
    cwd.mkdir()
    log_path = work / "runner.log"
    started = time.monotonic()
    env = {**_runner_environment(app_url, cwd),
           **runner_environment(str(control.directory), plan.health_path, plan.limits.startup_timeout_s),
           **services_env}
    problem = _run_with_timeout(command, cwd, env, log_path, plan, control)
    seconds = round(time.monotonic() - started, 3)
    log = log_path.read_text(errors="replace")[-RUNNER_LOG_CHARS:]
    timed_out = problem is not None
    if timed_out and report.exists():
        problem = None  # the plugin's report holds every verdict, the unfinished tests failed
    if problem is None and not report.exists():
        problem = "hidden suite wrote no report"
    return SuiteRun(report if report.exists() else None, log, problem, seconds, timed_out)


def _suite_command(plan: RunPlan, app_url: str, report: Path) -> list[str]:
    """The hidden-test check's own command, run with the grader's interpreter."""
    context = CheckContext(str(plan.tests_dir), str(report.parent), sys.executable, app_url=app_url)
    return [*HIDDEN_TESTS.command(context), *plan.pytest_args]


def _runner_environment(app_url: str, home: Path) -> dict[str, str]:
    env = _essential_env()
    env.update(
        PYTHONPATH=str(checks_dir().parent),
        PYTHONDONTWRITEBYTECODE="1",
        HOME=str(home),
        GRADER_APP_URL=app_url,
    )
    return env


def _run_with_timeout(
    command: Sequence[str], cwd: Path, env: Mapping[str, str], log_path: Path, plan: RunPlan,
    control: ControlServer,
) -> str | None:
    """Run the suite, answering its control requests; None when it finished in time, else the problem.
    Killed on timeout or Ctrl-C."""
    timeout_s = plan.limits.test_timeout_s
    deadline = time.monotonic() + timeout_s
    with log_path.open("wb") as log:
        runner = subprocess.Popen(
            list(command), cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        while runner.poll() is None:
            if time.monotonic() > deadline:
                return f"hidden suite timed out after {timeout_s:g}s"
            control.serve()
            time.sleep(SUITE_POLL_S)
    finally:
        stop_process_group(runner, grace_s=0)
    return None


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
        findings=findings,
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
