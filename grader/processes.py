"""The one module that starts and stops processes on this host.

Every command the host side runs (git, uv, pip, venv, debootstrap, the local backend's app and runners, the
hidden suite that fails every test) goes through here, so timeouts, process groups and output caps are
handled once:

- `run`: run a command to completion within a timeout. Its output goes to temporary files, not pipes, and only
  the last `max_output_bytes` of each stream are read back: a chatty or hostile tool cannot fill the memory,
  and a grandchild that keeps the output open cannot hold the caller up.
- `stream_lines`: run a command and hand each line of its output (stdout and stderr merged) to a callback.
- `copy_output`: run a command and copy its stdout into a file, stopping it once the output passes a cap.
- `ProcessGroup`: a command in its own session and process group (the candidate's app, a runner) that can be
  polled, waited for and stopped as a whole: SIGTERM, then SIGKILL after a grace period.
- `kill_tagged`: SIGKILL what left its group and session but still carries a run's environment token.

Every command runs in a session of its own, so a timeout, an exception or Ctrl-C stops its whole group, not
just its first process. On Windows (no process groups) the command alone is killed.

The sandbox side (`checks/`) has its own small runner, `checks._common.run_tool`: it never imports the grader.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

TERM_GRACE_S = 3.0  # between SIGTERM and SIGKILL when a group is stopped gracefully
KILL_WAIT_S = 3.0  # how long a SIGKILLed group may take to disappear
GROUP_POLL_S = 0.05
DEFAULT_OUTPUT_CAP = 16 * 1024 * 1024  # bytes of each stream `run` reads back (the tail)
KILL_ROUNDS = 20  # `kill_tagged` repeats while tagged processes fork as they are killed

StrPath = str | Path
Sink = IO[bytes] | None  # where a stream goes; None discards it


class TimedOut(Exception):
    """A command did not finish within its timeout; its whole process group was killed."""

    def __init__(self, argv: Sequence[str], timeout_s: float) -> None:
        super().__init__(f"{argv[0] if argv else 'the command'} took longer than {timeout_s:g} s")
        self.argv = tuple(argv)
        self.timeout_s = timeout_s


class OutputTooLarge(Exception):
    """A command's output passed the cap its caller set; the command was killed."""

    def __init__(self, cap_bytes: int) -> None:
        super().__init__(f"the output passed {cap_bytes} bytes")
        self.cap_bytes = cap_bytes


@dataclass(frozen=True)
class Finished:
    """A command that ran to its end: exit code and (the tail of) what it printed on each stream."""

    returncode: int
    stdout: str
    stderr: str
    truncated: bool = False  # whether either stream was longer than the cap

    @property
    def output(self) -> str:
        """stdout followed by stderr."""
        return self.stdout + self.stderr


def posix_groups() -> bool:
    """Whether this system has process groups and sessions (not Windows)."""
    return hasattr(os, "killpg")


# --- run to completion --------------------------------------------------------------------------------------


def run(
    argv: Sequence[str],
    *,
    timeout_s: float,
    cwd: StrPath | None = None,
    env: Mapping[str, str] | None = None,
    max_output_bytes: int = DEFAULT_OUTPUT_CAP,
) -> Finished:
    """Run `argv` to completion; raise TimedOut (after killing its group) when it takes longer than `timeout_s`.

    Raises OSError when the command cannot be started (FileNotFoundError: no such program). Output is decoded
    as UTF-8, undecodable bytes replaced.
    """
    with tempfile.TemporaryFile(prefix="grader-out-") as out, tempfile.TemporaryFile(prefix="grader-err-") as err:
        group = ProcessGroup.start(argv, cwd=cwd, env=env, stdout=out, stderr=err)
        code = group.wait_or_stop(timeout_s)
        if code is None:
            raise TimedOut(argv, timeout_s)
        stdout, cut_out = _tail(out, max_output_bytes)
        stderr, cut_err = _tail(err, max_output_bytes)
    return Finished(code, stdout, stderr, cut_out or cut_err)


def _tail(handle: IO[bytes], cap: int) -> tuple[str, bool]:
    """The last `cap` bytes written to `handle`, decoded, and whether anything before them was dropped."""
    size = handle.seek(0, os.SEEK_END)
    handle.seek(max(0, size - cap))
    return handle.read().decode("utf-8", errors="replace"), size > cap


# --- output as it comes -------------------------------------------------------------------------------------


def stream_lines(
    argv: Sequence[str],
    on_line: Callable[[str], None],
    *,
    timeout_s: float | None = None,
    cwd: StrPath | None = None,
    env: Mapping[str, str] | None = None,
) -> int:
    """Run `argv`, calling `on_line` with each line it prints (stdout and stderr merged, without the line
    end); return its exit code. Raises TimedOut when `timeout_s` passes first, OSError when it cannot start."""
    group = ProcessGroup.start(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr="stdout")
    assert group.popen.stdout is not None
    with group.watchdog(timeout_s) as expired, group.popen.stdout as output:
        try:
            for raw in output:
                on_line(raw.decode("utf-8", errors="replace").rstrip("\r\n"))
        except BaseException:
            group.stop(grace_s=0)
            raise
        code = group.wait_or_stop(None)
    if expired.is_set():
        raise TimedOut(argv, timeout_s or 0)
    assert code is not None
    return code


def copy_output(
    argv: Sequence[str],
    destination: IO[bytes],
    *,
    max_bytes: int,
    timeout_s: float,
    env: Mapping[str, str] | None = None,
    chunk_bytes: int = 1024 * 1024,
) -> int:
    """Run `argv`, copying its stdout into `destination` (stderr is discarded); return its exit code.

    Raises OutputTooLarge (the command killed) once more than `max_bytes` came, TimedOut when `timeout_s`
    passes first, OSError when it cannot start.
    """
    group = ProcessGroup.start(argv, env=env, stdout=subprocess.PIPE)
    assert group.popen.stdout is not None
    with group.watchdog(timeout_s) as expired, group.popen.stdout as output:
        try:
            _copy_capped(output, destination, max_bytes, chunk_bytes)
        except BaseException:
            group.stop(grace_s=0)
            raise
        code = group.wait_or_stop(None)
    if expired.is_set():
        raise TimedOut(argv, timeout_s)
    assert code is not None
    return code


def _copy_capped(output: IO[bytes], destination: IO[bytes], max_bytes: int, chunk_bytes: int) -> None:
    written = 0
    while chunk := output.read(chunk_bytes):
        written += len(chunk)
        if written > max_bytes:
            raise OutputTooLarge(max_bytes)
        destination.write(chunk)


# --- process groups -----------------------------------------------------------------------------------------


class ProcessGroup:
    """A command running in its own session and process group: its pid is the group's and the session's id."""

    def __init__(self, popen: subprocess.Popen[bytes]) -> None:
        self.popen = popen

    @classmethod
    def start(
        cls,
        argv: Sequence[str],
        *,
        cwd: StrPath | None = None,
        env: Mapping[str, str] | None = None,
        stdout: Sink | int = None,
        stderr: Sink | Literal["stdout"] = None,
        preexec: Callable[[], None] | None = None,
    ) -> ProcessGroup:
        """Start `argv` with no stdin. `stdout`/`stderr` name an open file (None: discarded; stderr may also
        follow stdout). `preexec` runs in the child before exec (rlimits): keep it to plain system calls.

        Raises OSError when it cannot be started (no such program, or `preexec` failed).
        """
        try:
            popen = subprocess.Popen(
                [str(arg) for arg in argv],
                cwd=cwd,
                env=dict(env) if env is not None else None,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL if stdout is None else stdout,
                stderr=subprocess.STDOUT if stderr == "stdout" else subprocess.DEVNULL if stderr is None else stderr,
                start_new_session=True,
                preexec_fn=preexec,
            )
        except subprocess.SubprocessError as exc:  # preexec raised in the child: one kind of error for callers
            raise OSError(str(exc)) from exc
        return cls(popen)

    @property
    def pid(self) -> int:
        """The leader's pid, which is also the group's and the session's id."""
        return self.popen.pid

    def poll(self) -> int | None:
        """The leader's exit code, or None while it runs."""
        return self.popen.poll()

    def wait(self, timeout_s: float | None) -> int | None:
        """Wait up to `timeout_s` (None: no limit) for the leader; its exit code, or None if it still runs."""
        try:
            return self.popen.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return None

    def wait_or_stop(self, timeout_s: float | None) -> int | None:
        """`wait`, but the whole group is killed when the time runs out (then None) or the wait is interrupted
        (Ctrl-C, an exception in another handler): nothing of it outlives the caller's interest."""
        try:
            code = self.wait(timeout_s)
        except BaseException:
            self.stop(grace_s=0)
            raise
        if code is None:
            self.stop(grace_s=0)
        return code

    def stop(self, grace_s: float = TERM_GRACE_S) -> None:
        """SIGTERM the group and session, wait up to `grace_s`, then SIGKILL what is left. Safe to repeat."""
        if not posix_groups():
            with contextlib.suppress(OSError):
                self.popen.kill()
            self.popen.wait()
            return
        if grace_s > 0:
            _signal_group(self.pid, signal.SIGTERM)
            if self.gone_within(grace_s):
                return
        _signal_group(self.pid, signal.SIGKILL)
        self.gone_within(KILL_WAIT_S)

    def send(self, signum: int) -> None:
        """Send `signum` to the group and session (no-op once they are gone)."""
        if posix_groups():
            _signal_group(self.pid, signum)
        else:
            with contextlib.suppress(OSError):
                self.popen.send_signal(signum)

    def gone_within(self, timeout_s: float) -> bool:
        """Wait up to `timeout_s` until no process of the group is left (the leader reaped); whether it came to that."""
        deadline = time.monotonic() + timeout_s
        while True:
            self.popen.poll()  # reap the leader, or it lingers as a zombie
            if not group_members(self.pid):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(GROUP_POLL_S)

    @contextlib.contextmanager
    def watchdog(self, timeout_s: float | None) -> Iterator[threading.Event]:
        """Kill the group if the block is still running after `timeout_s` (None: never); the event yielded
        is set when that happened. For reads that block, which no deadline check could interrupt."""
        expired = threading.Event()

        def expire() -> None:
            expired.set()
            self.stop(grace_s=0)

        timer = threading.Timer(timeout_s, expire) if timeout_s is not None else None
        if timer is not None:
            timer.daemon = True
            timer.start()
        try:
            yield expired
        finally:
            if timer is not None:
                timer.cancel()


def _signal_group(pgid: int, signum: int) -> None:
    """Signal the group, and members of the same session that moved to another group. Each process gets the
    signal once: a second SIGTERM reaching a process that handled the first and is already shutting down
    (Python restores the default action then) would kill it with 143 instead of its own exit code."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)
    for pid in _left_the_group(pgid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signum)


def _left_the_group(pgid: int) -> set[int]:
    """Live processes of session `pgid` in another process group (which `killpg` does not reach)."""
    return {pid for pid, group, session in _live_processes() if session == pgid != group}


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
    return {pid for pid, group, session in _live_processes() if pgid in (group, session)}


def _live_processes() -> Iterator[tuple[int, int, int]]:
    """(pid, process group, session) of every live, non-zombie process /proc shows (none without /proc)."""
    proc = Path("/proc")
    if not (proc / "self" / "stat").exists():
        return
    for entry in proc.iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(entry / "stat")
            if len(fields) >= 4 and fields[0] not in ("Z", "X"):
                yield int(entry.name), int(fields[2]), int(fields[3])


def _stat_fields(stat_file: Path) -> list[str]:
    """The fields of /proc/<pid>/stat after the command name: state, ppid, pgrp, session, ... ([] if gone)."""
    try:
        text = stat_file.read_text()
    except OSError:
        return []
    # "pid (comm) state ppid pgrp session ...": comm may hold spaces and parentheses.
    return text[text.rfind(")") + 2 :].split()


# --- processes that left their group ------------------------------------------------------------------------


def kill_tagged(variable: str, value: str) -> list[int]:
    """SIGKILL every process of this user whose environment has `variable=value`; return their pids.

    Catches what escaped a process group and session (a double fork with setsid()). Repeated until none is
    left, since a survivor may fork while it is being killed. Where there is no /proc, nothing is found.
    """
    killed: list[int] = []
    needle = f"{variable}={value}".encode()
    for _ in range(KILL_ROUNDS):
        found = [pid for pid in _own_pids() if _environ_has(pid, needle)]
        if not found:
            break
        for pid in found:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        killed.extend(pid for pid in found if pid not in killed)
        time.sleep(GROUP_POLL_S)
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
    fields = _stat_fields(stat_file)
    return bool(fields) and fields[0] not in ("Z", "X")
