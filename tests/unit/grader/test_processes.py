"""The host's one process gateway (`grader.processes`), with real processes: output, caps, timeouts, groups.

What a timeout or a cap must stop is the whole process group: a command's children (uv's, git's, a shell's
background job) must not outlive it. Each test starts such a child and looks in /proc afterwards.
"""

from __future__ import annotations

import io
import os
import signal
import sys
from pathlib import Path

import pytest

from grader.processes import (
    OutputTooLarge,
    ProcessGroup,
    TimedOut,
    copy_output,
    group_members,
    kill_tagged,
    run,
    stream_lines,
)

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc to see what is alive")

GENEROUS_S = 120.0  # for commands that end by themselves: only a hang reaches it, on any load
SHORT_S = 5.0  # a timeout meant to expire: long enough for a shell to start its child even on a loaded host


def alive(pid: int) -> bool:
    """Whether `pid` runs and is not a zombie."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return text[text.rfind(")") + 2 :].split()[0] not in ("Z", "X")


def background_child(pid_file: Path) -> str:
    """A shell snippet that leaves a long `sleep` in the background and writes its pid to `pid_file`."""
    return f"sleep 300 & echo $! > {pid_file}; "


def test_run_returns_the_exit_code_and_both_streams() -> None:
    done = run([sys.executable, "-c", "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)"],
               timeout_s=GENEROUS_S)
    assert (done.returncode, done.stdout, done.stderr, done.truncated) == (3, "out\n", "err\n", False)
    assert done.output == "out\nerr\n"


def test_run_keeps_only_the_tail_of_a_flood_of_output() -> None:
    done = run([sys.executable, "-c", "print('x' * 100_000 + 'END')"], timeout_s=GENEROUS_S, max_output_bytes=1000)
    assert done.truncated
    assert len(done.stdout) == 1000 and done.stdout.endswith("END\n")


def test_run_of_a_missing_program_is_an_os_error() -> None:
    with pytest.raises(FileNotFoundError):
        run(["grader-no-such-program"], timeout_s=GENEROUS_S)


def test_a_timeout_kills_the_command_and_what_it_started(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    with pytest.raises(TimedOut, match="took longer than 5 s"):
        run(["/bin/sh", "-c", background_child(pid_file) + "sleep 300"], timeout_s=SHORT_S)
    child = int(pid_file.read_text())
    assert not alive(child), "the command's background child outlived the timeout"


def test_stream_lines_hands_over_every_line_and_the_exit_code() -> None:
    lines: list[str] = []
    code = stream_lines(["/bin/sh", "-c", "echo one; echo two >&2; exit 4"], lines.append, timeout_s=GENEROUS_S)
    assert (code, lines) == (4, ["one", "two"])


def test_stream_lines_times_out_even_while_the_command_prints_nothing(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    with pytest.raises(TimedOut):
        stream_lines(["/bin/sh", "-c", background_child(pid_file) + "sleep 300"], lambda _: None, timeout_s=SHORT_S)
    assert not alive(int(pid_file.read_text()))


def test_copy_output_copies_stdout_only() -> None:
    sink = io.BytesIO()
    code = copy_output(["/bin/sh", "-c", "printf abc; echo noise >&2"], sink, max_bytes=10, timeout_s=GENEROUS_S)
    assert (code, sink.getvalue()) == (0, b"abc")


def test_copy_output_stops_a_command_whose_output_passes_the_cap(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    sink = io.BytesIO()
    with pytest.raises(OutputTooLarge):
        copy_output(["/bin/sh", "-c", background_child(pid_file) + "yes"], sink, max_bytes=100_000,
                    timeout_s=GENEROUS_S, chunk_bytes=4096)
    assert len(sink.getvalue()) <= 100_000
    assert not alive(int(pid_file.read_text()))


def test_stop_kills_a_group_that_ignores_sigterm_after_the_grace(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    ready = tmp_path / "ready"
    script = f"trap '' TERM; {background_child(pid_file)} touch {ready}; while :; do sleep 1; done"
    group = ProcessGroup.start(["/bin/sh", "-c", script])
    for _ in range(600):  # wait for the trap and the child, however slow the machine is
        if ready.exists() or group.poll() is not None:
            break
        group.wait(0.1)
    assert ready.exists()
    group.stop(grace_s=0.5)
    assert group_members(group.pid) == set()
    assert group.poll() is not None and not alive(int(pid_file.read_text()))


def test_kill_tagged_finds_what_left_the_group(tmp_path: Path) -> None:
    token = f"test-{os.getpid()}-{tmp_path.name}"
    pid_file = tmp_path / "escaped.pid"
    # setsid: a new session and group, out of reach of the group's signals; only the variable tells.
    escape = f"setsid sleep 300 & echo $! > {pid_file}"
    run(["/bin/sh", "-c", escape], timeout_s=GENEROUS_S, env={**os.environ, "GRADER_TEST_TAG": token})
    escaped = int(pid_file.read_text())
    try:
        assert alive(escaped)
        assert kill_tagged("GRADER_TEST_TAG", token) == [escaped]
        assert kill_tagged("GRADER_TEST_TAG", token) == []
    finally:
        if alive(escaped):
            os.kill(escaped, 9)


COUNT_SIGTERMS = """
import signal, sys, time
from pathlib import Path
received = []
signal.signal(signal.SIGTERM, lambda *_: received.append(1))
Path(sys.argv[1]).touch()
while not received:
    signal.pause()
time.sleep(1)  # a second SIGTERM sent after the first would have arrived by now
sys.exit(len(received))
"""


def test_sending_a_signal_to_a_group_delivers_it_once_to_each_process(tmp_path: Path) -> None:
    """killpg reaches the group; signalling its members one by one as well gave each a second SIGTERM, which
    killed a process that had handled the first and was exiting (143 instead of its own code)."""
    ready = tmp_path / "ready"
    group = ProcessGroup.start([sys.executable, "-c", COUNT_SIGTERMS, str(ready)])
    for _ in range(600):  # wait for the handler, however slow the machine is
        if ready.exists() or group.poll() is not None:
            break
        group.wait(0.1)
    assert ready.exists()
    group.send(signal.SIGTERM)
    assert group.wait(GENEROUS_S) == 1  # the exit code is the number of SIGTERMs received
