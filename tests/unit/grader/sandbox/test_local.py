"""The local sandbox backend with real venvs, real processes and a real hidden suite (no mocks).

Installing from a wheels directory the index filled: tests/network/grader/sandbox/test_local.py.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from grader.checks.registry import HIDDEN_TESTS
from grader.checks.suite import wait_for_app_command
from grader.environments import build_environment, explain
from grader.models import Limits
from grader.processes import group_members
from grader.sandbox.base import AppRunRequest, Environment, Environments, RunOutcome, StaticJob, loopback_url
from grader.sandbox.local import LocalSandbox
from grader.sandbox.venvs import MARKER_NAME
from tests.conftest import REPO_ROOT

FIXTURES = Path(__file__).resolve().parent / "fixtures_local"
PY_VERSION = f"{sys.version_info.major}.{sys.version_info.minor}"
FAST_LIMITS = {"startup_timeout_s": 15, "test_timeout_s": 30}


# --- helpers -----------------------------------------------------------------------------------------


def prepare(
    sandbox: LocalSandbox, *requirements: str, wheels_dir: Path | None = None, python: str = PY_VERSION
) -> Environment:
    """The candidate's environment with `requirements`, keyed and built as a grading does."""
    return build_environment(sandbox, sandbox.foundation(), "env", python, tuple(requirements), wheels_dir)


@pytest.fixture
def environment() -> Environment:
    """An empty venv (built once per test session, then reused from the session's cache)."""
    return prepare(LocalSandbox())


@pytest.fixture
def snapshot(tmp_path: Path) -> Path:
    root = tmp_path / "snapshot"
    root.mkdir()
    shutil.copy(FIXTURES / "app.py", root / "app.py")
    return root


@pytest.fixture
def suite(tmp_path: Path) -> Path:
    root = tmp_path / "suite"
    root.mkdir()
    shutil.copy(FIXTURES / "hidden_suite.py", root / "test_hidden.py")
    return root


def make_plan(
    environment: Environment,
    tmp_path: Path,
    snapshot: Path,
    tests_dir: Path,
    start_command: str = "python app.py",
    app_env: dict[str, str] | None = None,
    **limits: float,
) -> AppRunRequest:
    """The app's run request as the runs step builds it: a free port, the suite's and the wait's commands."""
    sandbox, environments = LocalSandbox(), Environments(environment, None)
    port = sandbox.app_port(8000)
    context = sandbox.check_context("suite-runner", environments, tests_dir, tmp_path / "out",
                                    app_url=loopback_url(port))
    run_limits = Limits.model_validate({**FAST_LIMITS, **limits})
    return AppRunRequest(
        environments=environments,
        snapshot=snapshot,
        start_command=start_command,
        app_env={"PROBE_FILE": str(tmp_path / "probe.json"), **(app_env or {})},
        port=port,
        health_path="/health",
        wait_argv=tuple(wait_for_app_command(context.python, [loopback_url(port) + "/health"],
                                             run_limits.startup_timeout_s)),
        suite_argv=tuple(HIDDEN_TESTS.command(context)),
        limits=run_limits,
        tests_dir=tests_dir,
        output_dir=tmp_path / "out",
    )


def read_probe(tmp_path: Path) -> dict[str, object]:
    probe: dict[str, object] = json.loads((tmp_path / "probe.json").read_text())
    return probe


def assert_group_gone(pgid: int) -> None:
    """No live process remains in the group (zombies that PID 1 has yet to reap are dead already)."""
    assert group_members(pgid) == set()
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return
    # The group id still resolves: every member left must be a zombie, i.e. already dead.
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = (entry / "stat").read_text(errors="replace") if (entry / "stat").exists() else ""
            fields = stat[stat.rfind(")") + 2 :].split()
            if len(fields) > 2 and int(fields[2]) == pgid:
                assert fields[0] == "Z", f"process {entry.name} of group {pgid} is still alive"


def verdicts(outcome: RunOutcome) -> dict[str, tuple[str, str]]:
    assert outcome.report is not None
    report = json.loads(outcome.report.read_text())
    return {test["name"]: (test["outcome"], test["category"]) for test in report["tests"]}


# --- prepare -------------------------------------------------------------------------------------------


def test_prepare_builds_a_venv_then_reuses_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRADER_CACHE_DIR", str(tmp_path / "cache"))
    sandbox = LocalSandbox()

    first = prepare(sandbox)
    second = prepare(sandbox)

    assert (first.backend, first.python, first.reused) == ("local", PY_VERSION, False)
    assert explain(first, PY_VERSION) == f"built venv {first.key[:12]}: no venv with these requirements yet"
    assert first.venv == tmp_path / "cache" / "venvs" / first.key
    assert (first.venv / "bin" / "python").exists()
    marker = json.loads((first.venv / MARKER_NAME).read_text())
    assert marker["requirements"] == [] and marker["python"] == PY_VERSION
    assert second.reused and second.key == first.key and second.venv == first.venv
    assert explain(second, PY_VERSION) == f"reused venv {first.key[:12]}: same requirements"


def test_prepare_warns_when_the_challenge_wants_another_python(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRADER_CACHE_DIR", str(tmp_path / "cache"))

    env = prepare(LocalSandbox(), python="3.99")

    assert env.python == PY_VERSION
    expected = f"warning: the challenge asks for Python 3.99 but the local interpreter is {PY_VERSION}"
    assert expected in explain(env, "3.99")


def test_prepare_rebuilds_an_incomplete_venv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRADER_CACHE_DIR", str(tmp_path / "cache"))
    sandbox = LocalSandbox()
    built = prepare(sandbox)
    assert built.venv is not None
    (built.venv / MARKER_NAME).unlink()  # as if the grader died mid-build
    (built.venv / "leftover.txt").write_text("junk")

    rebuilt = prepare(sandbox)

    assert not rebuilt.reused and rebuilt.repaired
    assert "previous build was incomplete" in explain(rebuilt, PY_VERSION)
    assert not (built.venv / "leftover.txt").exists()
    assert (built.venv / MARKER_NAME).is_file()


# --- run -----------------------------------------------------------------------------------------------


def test_run_grades_the_app_with_the_hidden_suite(
    environment: Environment, snapshot: Path, suite: Path, tmp_path: Path
) -> None:
    plan = make_plan(environment, tmp_path, snapshot, suite)

    outcome = LocalSandbox().run(plan)

    assert outcome.app.started and outcome.app.problem is None, outcome.app.log_tail
    assert outcome.runner_problem is None, outcome.runner_log
    assert outcome.report == tmp_path / "out" / "hidden.json"
    assert verdicts(outcome) == {
        "test_hello": ("passed", "api_design"),
        "test_deliberately_fails": ("failed", "api_design"),
    }
    assert "1 failed, 1 passed" in outcome.runner_log
    assert outcome.app.exit_code is None  # it was still running: the teardown stopped it
    assert "listening on" in outcome.app.log_tail
    assert "sandbox.local.not-isolated" in {finding.rule for finding in outcome.findings}
    if os.geteuid() == 0:
        assert "sandbox.local.root-pids" in {finding.rule for finding in outcome.findings}


def test_run_gives_the_app_a_clean_env_and_a_data_dir_it_removes(
    environment: Environment, snapshot: Path, suite: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRADER_TEST_SECRET", "must-not-leak")
    plan = make_plan(environment, tmp_path, snapshot, suite, app_env={"MY_DB": "{data_dir}/x.db", "MY_PORT": "{port}"})

    LocalSandbox().run(plan)

    probe = read_probe(tmp_path)
    env = probe["env"]
    assert isinstance(env, dict)
    data_dir = Path(env["DATA_DIR"])
    assert env["DATABASE_URL"] == f"sqlite:///{data_dir}/app.db"
    assert env["DATABASE_URL"].startswith("sqlite:////")
    assert env["HOME"] == str(data_dir)
    assert env["MY_DB"] == f"{data_dir}/x.db" and env["MY_PORT"] == env["PORT"]
    assert env["VIRTUAL_ENV"] == str(environment.venv)
    assert env["PATH"].startswith(f"{environment.venv}/bin:")
    assert env["PYTHONDONTWRITEBYTECODE"] == "1" and env["PYTHONUNBUFFERED"] == "1"
    assert "GRADER_TEST_SECRET" not in env and "GRADER_CACHE_DIR" not in env
    assert probe["cwd"] == str(snapshot)
    assert not data_dir.exists()  # the app wrote note.txt there; the whole dir is gone


def test_run_applies_rlimits_to_the_app(
    environment: Environment, snapshot: Path, suite: Path, tmp_path: Path
) -> None:
    plan = make_plan(environment, tmp_path, snapshot, suite, memory_mb=256, data_mb=2)

    LocalSandbox().run(plan)

    rlimits = read_probe(tmp_path)["rlimits"]
    assert isinstance(rlimits, dict)
    assert rlimits["RLIMIT_AS"] == [256 * 4 * 1024 * 1024] * 2
    assert rlimits["RLIMIT_FSIZE"] == [2 * 1024 * 1024] * 2
    assert rlimits["RLIMIT_CORE"] == [0, 0]
    assert rlimits["RLIMIT_CPU"] == [45, 50]  # startup 15 s + tests 30 s, SIGKILL 5 s later
    assert rlimits["RLIMIT_NPROC"][0] >= 128


def test_an_app_that_exits_at_once_did_not_start(
    environment: Environment, snapshot: Path, suite: Path, tmp_path: Path
) -> None:
    command = "echo 'ModuleNotFoundError: no module named fastapi' >&2; exit 3"
    plan = make_plan(environment, tmp_path, snapshot, suite, command)

    started = time.monotonic()
    outcome = LocalSandbox().run(plan)

    assert time.monotonic() - started < 5  # it did not wait out the 15 s startup timeout
    assert not outcome.app.started
    assert outcome.app.exit_code == 3
    assert outcome.app.problem == "did not start: exited with code 3 before answering /health"
    assert "ModuleNotFoundError: no module named fastapi" in outcome.app.log_tail
    assert outcome.report is None and outcome.runner_log == ""


def test_an_app_that_never_answers_times_out_and_is_stopped(
    environment: Environment, snapshot: Path, suite: Path, tmp_path: Path
) -> None:
    pid_file = tmp_path / "pid"
    plan = make_plan(environment, tmp_path, snapshot, suite, f"echo $$ > {pid_file}; exec sleep 60",
                     startup_timeout_s=1)

    outcome = LocalSandbox().run(plan)

    assert not outcome.app.started and outcome.app.exit_code is None
    assert outcome.app.problem is not None
    assert outcome.app.problem.startswith("did not start within 1s")
    assert outcome.report is None
    assert_group_gone(int(pid_file.read_text()))


def test_teardown_kills_a_child_that_ignores_sigterm(
    environment: Environment, snapshot: Path, suite: Path, tmp_path: Path
) -> None:
    command = "sh -c 'trap \"\" TERM; sleep 1000' & exec python app.py"
    plan = make_plan(environment, tmp_path, snapshot, suite, command)

    outcome = LocalSandbox().run(plan)

    assert outcome.app.started
    assert_group_gone(int(str(read_probe(tmp_path)["pgid"])))


def test_a_chatty_app_has_its_log_truncated(
    environment: Environment, snapshot: Path, suite: Path, tmp_path: Path
) -> None:
    command = "python -c \"print('x' * 100_000); print('the last words')\"; exit 1"
    plan = make_plan(environment, tmp_path, snapshot, suite, command, log_bytes=4096)

    outcome = LocalSandbox().run(plan)

    assert outcome.app.log_truncated
    assert len(outcome.app.log_tail) <= 4000
    assert outcome.app.log_tail.rstrip().endswith("the last words")


def test_a_hidden_suite_that_hangs_is_killed(
    environment: Environment, snapshot: Path, tmp_path: Path
) -> None:
    slow = tmp_path / "slow"
    slow.mkdir()
    (slow / "test_slow.py").write_text("import time\n\n\ndef test_sleeps():\n    time.sleep(3600)\n")
    # The limit must end the test, not pytest's start-up: 20 s is ten times pytest's start on an idle
    # machine, so the plugin is running the test when the limit strikes even at a load average of 8.
    plan = make_plan(environment, tmp_path, snapshot, slow, test_timeout_s=20)

    outcome = LocalSandbox().run(plan)

    assert outcome.app.started
    # The plugin's report survives the kill: the unfinished test counts as failed, and the limit is named.
    assert outcome.runner_problem is None
    assert outcome.report is not None
    (test,) = json.loads(outcome.report.read_text())["tests"]
    assert test["outcome"] == "failed" and "time limit" in test["message"]
    assert outcome.app.limits_hit == ["test_timeout"]


DRIVER = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from grader.checks.registry import HIDDEN_TESTS
    from grader.models import Limits
    from grader.sandbox.base import AppRunRequest, Environment, Environments, loopback_url
    from grader.sandbox.local import LocalSandbox

    args = json.loads(sys.argv[1])
    sandbox = LocalSandbox()
    env = Environments(Environment(backend="local", key="k", python="3", reused=True, venv=Path(args["venv"])), None)
    port = sandbox.app_port(8000)
    context = sandbox.check_context("suite-runner", env, Path(args["tests"]), Path(args["out"]), loopback_url(port))
    plan = AppRunRequest(
        environments=env, snapshot=Path(args["snapshot"]), start_command="python app.py",
        app_env={"PROBE_FILE": args["probe"]}, port=port, health_path="/health", wait_argv=(),
        suite_argv=tuple(HIDDEN_TESTS.command(context)), limits=Limits(startup_timeout_s=15, test_timeout_s=60),
        tests_dir=Path(args["tests"]), output_dir=Path(args["out"]),
    )
    sandbox.run(plan)
    """
)


def test_ctrl_c_during_the_suite_still_stops_everything(
    environment: Environment, snapshot: Path, tmp_path: Path
) -> None:
    runner_pgid_file = tmp_path / "runner-pgid"
    slow = tmp_path / "slow"
    slow.mkdir()
    (slow / "test_slow.py").write_text(
        "import os, time\n\n\ndef test_sleeps():\n"
        f"    open({str(runner_pgid_file)!r}, 'w').write(str(os.getpgid(0)))\n    time.sleep(60)\n"
    )
    args = {"venv": str(environment.venv), "snapshot": str(snapshot), "probe": str(tmp_path / "probe.json"),
            "tests": str(slow), "out": str(tmp_path / "out")}
    driver = subprocess.Popen([sys.executable, "-c", DRIVER, json.dumps(args)], cwd=REPO_ROOT,
                              stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 300  # ends when the suite starts; generous only for a loaded machine
        while not runner_pgid_file.exists() or not runner_pgid_file.read_text():
            assert time.monotonic() < deadline and driver.poll() is None, "the suite never started"
            time.sleep(0.1)
        driver.send_signal(signal.SIGINT)
        _, stderr = driver.communicate(timeout=300)  # returns as soon as the driver exits
    finally:
        if driver.poll() is None:
            driver.kill()

    assert "KeyboardInterrupt" in stderr
    assert_group_gone(int(str(read_probe(tmp_path)["pgid"])))
    assert_group_gone(int(runner_pgid_file.read_text()))


def test_a_static_run_killed_before_its_clean_up_leaves_no_temporary_files(
    environment: Environment, snapshot: Path, tmp_path: Path
) -> None:
    """The candidate_tests check copies the submission into a temporary folder: one the check never got to
    remove (killed at its timeout) must still go with the run's work dir."""
    out = tmp_path / "out"
    script = ("import os, pathlib, signal, sys, tempfile\n"
              "folder = tempfile.mkdtemp(prefix='grader-tests-')\n"
              "pathlib.Path(folder, 'copy.db').write_text('x')\n"
              "pathlib.Path(sys.argv[1], 'left.txt').write_text(folder)\n"
              "os.kill(os.getpid(), signal.SIGKILL)\n")
    job = StaticJob(environments=Environments(environment, None), where="candidate", snapshot=snapshot, plan=(),
                    argv=("python", "-c", script, str(out)), timeout_s=60, limits=Limits(), output_dir=out,
                    app_env={})
    LocalSandbox().run_static(job)
    left = Path((out / "left.txt").read_text())
    assert left.name.startswith("grader-tests-") and not left.exists()



def test_the_candidates_own_tests_meet_an_unreachable_upstream_and_are_named_when_they_call_it(
    environment: Environment, tmp_path: Path
) -> None:
    """`{upstream_port}` in the challenge's env: the candidate_tests check gets a port nothing serves and the
    names of the variables that hold it, so it can name the tests that called the service for real."""
    out, snapshot = tmp_path / "out", tmp_path / "snapshot"
    shutil.copytree(REPO_ROOT / "tests" / "fixtures" / "candidate_tests" / "upstream-called", snapshot)
    job = StaticJob(environments=Environments(environment, None), where="candidate", snapshot=snapshot, plan=(),
                    argv=(sys.executable, "-m", "checks.candidate_tests", "--submission", str(snapshot),
                          "--out", str(out)),
                    timeout_s=240, limits=Limits(), output_dir=out,
                    app_env={"SAFETY_API_URL": "http://127.0.0.1:{upstream_port}/", "MODE": "test"})
    LocalSandbox().run_static(job)
    report = json.loads((out / "candidate_tests.json").read_text())
    assert (report["metrics"]["upstream_calls"], report["metrics"]["mocks_used"]) == (2, 0), report["findings"]
    named = [f["message"] for f in report["findings"] if f["rule"] == "calls-real-upstream"]
    assert len(named) == 2 and all("$SAFETY_API_URL (http://127.0.0.1:" in m for m in named), named
    assert not any("{upstream_port}" in m for m in named), named

# --- observability: the runner's OTLP receiver and the app's metrics ----------------------------------------

OBSERVABILITY = REPO_ROOT / "tests" / "fixtures" / "observability-challenge"


def observed_plan(environment: Environment, where: Path) -> AppRunRequest:
    """A tiny challenge whose app exports spans and serves metrics (run by this interpreter, which has the
    OpenTelemetry SDK and prometheus_client) and whose hidden suite reads them with `traces` and `metrics`."""
    snapshot, suite = where / "snapshot", where / "suite"
    snapshot.mkdir(parents=True)
    shutil.copytree(OBSERVABILITY / "hidden", suite)
    shutil.copy(OBSERVABILITY / "submission" / "traced_app.py", snapshot / "traced_app.py")
    return make_plan(environment, where, snapshot, suite, f"{sys.executable} traced_app.py", test_timeout_s=120)


def test_run_gives_the_app_an_otlp_endpoint_the_hidden_suite_reads_spans_from(
    environment: Environment, tmp_path: Path
) -> None:
    outcome = LocalSandbox().run(observed_plan(environment, tmp_path))

    assert outcome.runner_problem is None, outcome.runner_log
    assert verdicts(outcome) == {
        "test_work_is_traced_from_the_callers_context_and_counted": ("passed", "observability"),
        "test_a_span_the_app_never_exports_fails": ("failed", "observability"),
    }, outcome.runner_log


def test_concurrent_runs_each_receive_their_own_apps_spans(environment: Environment, tmp_path: Path) -> None:
    """Each run's receiver listens on its own free port: two gradings on one machine do not collide."""
    plans = [observed_plan(environment, tmp_path / name) for name in ("first", "second")]
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = list(pool.map(LocalSandbox().run, plans))

    for outcome in outcomes:
        passed = verdicts(outcome)["test_work_is_traced_from_the_callers_context_and_counted"]
        assert passed == ("passed", "observability"), outcome.runner_log


# --- the fake upstream: a port of each grading's own ---------------------------------------------------------

RELAY = REPO_ROOT / "tests" / "fixtures" / "upstream-relay"


def test_the_fake_upstream_serves_at_the_port_upstream_port_names_not_a_fixed_one(
    environment: Environment, tmp_path: Path
) -> None:
    """Port 18080 (the pod's fixed one) is taken here, as by another grading on this machine: the app's
    `{upstream_port}` and the suite's `fake_upstream()` must agree on a port of this grading's own."""
    snapshot, suite = tmp_path / "snapshot", tmp_path / "suite"
    shutil.copytree(RELAY / "submission", snapshot)
    shutil.copytree(RELAY / "hidden", suite)
    plan = make_plan(environment, tmp_path, snapshot, suite, f"{sys.executable} relay_app.py",
                     app_env={"UPSTREAM_URL": "http://127.0.0.1:{upstream_port}"})
    with contextlib.ExitStack() as stack:
        holder = stack.enter_context(socket.socket())
        with contextlib.suppress(OSError):  # already taken by something else: taken all the same
            holder.bind(("127.0.0.1", 18080))
            holder.listen()
        outcome = LocalSandbox().run(plan)

    assert outcome.runner_problem is None, outcome.runner_log
    assert verdicts(outcome) == {"test_the_app_relays_this_gradings_upstream": ("passed", "infrastructure")}, \
        outcome.runner_log


def test_a_stopped_apps_exit_code_is_read_while_another_thread_is_waiting_on_it(tmp_path: Path) -> None:
    """stop_app on the local backend: the grader's SIGKILL after the grace reads 137, even when another thread
    is inside waitpid on the same process at that moment (then `poll()` answers None: CPython lets one caller
    wait at a time; a flake of the stop_app test under load)."""
    import threading

    from grader.processes import ProcessGroup
    from grader.sandbox import local

    group = ProcessGroup.start([sys.executable, "-c", "import time; time.sleep(60)"])
    log = tmp_path / "app.log"
    log.write_text("")
    busy = group.popen._waitpid_lock  # what another thread's wait() holds (CPython's subprocess)
    busy.acquire()
    threading.Timer(0.5, busy.release).start()
    outcome = local._ended(group, time.monotonic(), log, 0)  # the grace is over: SIGKILL
    assert outcome["exited"] is False and outcome["exit_code"] == 128 + signal.SIGKILL, outcome
