"""The control channel's two halves, now in two packages, still speak one protocol: the runner's client
(`checks.app_control`) asks, the host's server (`grader.sandbox.control`) answers."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import pytest

from checks import app_control
from checks.formats import StopOutcome
from grader.sandbox.control import ControlServer, exit_code_of, runner_environment


class Host:
    """A ControlServer answering in a thread until stopped, with a restart counter and a fixed log."""

    def __init__(self, directory: Path, worker_log: str | None = None) -> None:
        self.restarted = 0
        self.stops: list[tuple[str, float]] = []
        self.server = ControlServer.create(directory, restart=self._restart, read_log=lambda: "app says hello\n",
                                           read_worker_log=(lambda: worker_log) if worker_log is not None else None,
                                           stop=self._stop)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _restart(self) -> None:
        self.restarted += 1

    def _stop(self, signum: signal.Signals, grace_s: float) -> tuple[StopOutcome, StopOutcome | None]:
        self.stops.append((signum.name, grace_s))
        return {"exited": False, "exit_code": 137, "log": "app: ignoring it\n"}, None

    def _serve(self) -> None:
        while not self.stop.wait(0.02):
            self.server.serve()

    def __enter__(self) -> Host:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()


def test_the_runner_restarts_the_app_and_reads_its_log_through_the_host(tmp_path: Path) -> None:
    with Host(tmp_path / "control") as host:
        assert app_control.ask(tmp_path / "control", "restart", timeout_s=60)["ok"] is True
        answer = app_control.ask(tmp_path / "control", "log", timeout_s=60)
    assert host.restarted == 1
    assert answer["log"] == "app says hello\n"


def test_a_refused_request_is_a_control_error_with_the_hosts_reason(tmp_path: Path) -> None:
    with Host(tmp_path / "control") as host:
        host.server.restarts = 10  # the limit: an eleventh restart is refused
        with pytest.raises(app_control.ControlError, match="already restarted 10 times"):
            app_control.ask(tmp_path / "control", "restart", timeout_s=60)


def test_the_runner_reads_the_workers_log_through_the_host(tmp_path: Path) -> None:
    with Host(tmp_path / "control", worker_log="worker says hello\n"):
        answer = app_control.ask(tmp_path / "control", "worker_log", timeout_s=60)
    assert answer["log"] == "worker says hello\n"


def test_asking_for_the_worker_log_without_a_worker_says_how_to_declare_one(tmp_path: Path) -> None:
    with Host(tmp_path / "control"), pytest.raises(app_control.ControlError) as refused:
        app_control.ask(tmp_path / "control", "worker_log", timeout_s=60)
    assert str(refused.value).startswith("the grader could not read the worker's log: the submission declares no "
                                         "worker process (a Procfile `worker:` line")


def test_the_runner_reads_what_the_host_put_in_its_environment(monkeypatch: pytest.MonkeyPatch,
                                                               tmp_path: Path) -> None:
    for name, value in runner_environment(str(tmp_path), "/healthz", 12.5).items():
        monkeypatch.setenv(name, value)
    assert (app_control.control_dir(), app_control.health_path(), app_control.startup_timeout_s()) == (
        tmp_path, "/healthz", 12.5)


def test_a_stop_request_carries_its_signal_and_grace_to_the_host(tmp_path: Path) -> None:
    with Host(tmp_path / "control") as host:
        answer = app_control.ask(tmp_path / "control", "stop", 60, {"signal": "SIGQUIT", "grace_s": 2.5})
    assert host.stops == [("SIGQUIT", 2.5)]
    assert answer["app"] == {"exited": False, "exit_code": 137, "log": "app: ignoring it\n"}
    assert answer["worker"] is None
    assert host.server.restarts == 1  # the app is started again: it counts against the restart limit


@pytest.mark.parametrize(("body", "reason"), [
    ({"signal": "SIGKILL", "grace_s": 1}, "not one a suite may send"),
    ({"signal": "SIGTERM", "grace_s": 0}, "must be a number above 0"),
    ({"signal": "SIGTERM", "grace_s": 31}, "at most 30"),
    ({"signal": "SIGTERM"}, "must be a number"),
])
def test_the_host_refuses_a_signal_or_grace_a_suite_may_not_ask_for(tmp_path: Path, body: dict[str, object],
                                                                     reason: str) -> None:
    with Host(tmp_path / "control") as host, pytest.raises(app_control.ControlError, match=reason):
        app_control.ask(tmp_path / "control", "stop", 60, body)
    assert host.stops == [] and host.server.restarts == 0


def test_a_signal_death_reads_as_the_shells_exit_code() -> None:
    assert exit_code_of(-15) == 143 and exit_code_of(-9) == 137
    assert exit_code_of(0) == 0 and exit_code_of(3) == 3 and exit_code_of(None) is None
