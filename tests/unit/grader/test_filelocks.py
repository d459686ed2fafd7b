"""One lock implementation for the whole grader (grader.filelocks): threads and processes exclude each
other, a waiter says why it waits, and no module of the CLI needs fcntl or resource to import."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from grader.filelocks import file_lock, lock_is_free, lock_path
from grader.sandbox.images.building import key_lock
from tests.conftest import REPO_ROOT

EVENT_DEADLINE_S = 120  # waits are on events; the deadline only guards a hung test on a loaded machine


@pytest.fixture(autouse=True)
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv("GRADER_CACHE_DIR", str(root))
    return root


def test_two_threads_of_one_process_exclude_each_other() -> None:
    held, release, waited, acquired_second = (threading.Event() for _ in range(4))

    def first() -> None:
        with file_lock("shared"):
            held.set()
            release.wait(EVENT_DEADLINE_S)

    def second() -> None:
        with file_lock("shared", on_wait=waited.set):
            acquired_second.set()

    holder = threading.Thread(target=first)
    holder.start()
    assert held.wait(EVENT_DEADLINE_S)
    waiter = threading.Thread(target=second)
    waiter.start()
    assert waited.wait(EVENT_DEADLINE_S), "the second thread did not see the lock as taken"
    assert not acquired_second.is_set() and not lock_is_free("shared")
    release.set()
    assert acquired_second.wait(EVENT_DEADLINE_S)
    holder.join()
    waiter.join()
    assert lock_is_free("shared")


def test_another_process_holding_the_lock_is_seen(own_cache: Path) -> None:
    """A grader in another terminal holds the lock: this one waits (and pruning keeps the entry)."""
    script = textwrap.dedent("""
        import sys
        from grader.filelocks import file_lock
        with file_lock("wheels-abc"):
            print("held", flush=True)
            sys.stdin.readline()
    """)
    holder = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True, cwd=REPO_ROOT)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        assert lock_path("wheels-abc").parent == own_cache / "locks"
        assert not lock_is_free("wheels-abc")
    finally:
        assert holder.stdin is not None
        holder.stdin.write("\n")
        holder.stdin.close()
        holder.wait(timeout=EVENT_DEADLINE_S)
    assert lock_is_free("wheels-abc")


def test_image_builds_share_the_lock_and_say_they_wait() -> None:
    """Keeps the behaviour of the image lock: a second build of one key logs why it waits, once."""
    lines: list[str] = []
    held, release, logged, done = (threading.Event() for _ in range(4))

    def log(line: str) -> None:
        lines.append(line)
        logged.set()

    def builder() -> None:
        with key_lock("k" * 40, lambda _: None):
            held.set()
            release.wait(EVENT_DEADLINE_S)

    def second_builder() -> None:
        with key_lock("k" * 40, log):
            done.set()

    first = threading.Thread(target=builder)
    first.start()
    assert held.wait(EVENT_DEADLINE_S)
    second = threading.Thread(target=second_builder)
    second.start()
    assert logged.wait(EVENT_DEADLINE_S)
    assert lines == [f"waiting for another grading that is building the image for {'k' * 20}"]
    assert not done.is_set()
    release.set()
    first.join()
    second.join()
    assert done.is_set() and lines == [lines[0]]


def test_an_unused_lock_is_free_and_waits_for_nobody() -> None:
    calls: list[str] = []
    assert lock_is_free("never-taken")
    with file_lock("never-taken", on_wait=lambda: calls.append("waited")):
        pass
    assert calls == []
