"""checks._common, and the helpers the static-check tests share (run a check module as the sandbox does)."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from checks._common import (
    SourceFile,
    count_code_lines,
    is_app_path,
    is_migration_path,
    is_test_path,
    parse_python,
    run_tool,
    tool_env,
    walk_files,
)
from tests.conftest import REPO_ROOT, skip_or_fail

FIXTURES = REPO_ROOT / "tests" / "fixtures" / "static"
GOOD = FIXTURES / "good"
BAD = FIXTURES / "bad"
FASTAPI_REF = REPO_ROOT / "challenges" / "hello-api" / "solutions" / "fastapi-ref"


# --- helpers for the check tests -------------------------------------------------------------------------


@dataclass
class CheckRun:
    """A finished `python -m checks.<id>` run."""

    returncode: int
    stderr: str
    report: dict[str, Any] | None
    raw: str
    seconds: float

    @property
    def metrics(self) -> dict[str, float]:
        assert self.report is not None, self.stderr
        metrics: dict[str, float] = self.report["metrics"]
        return metrics

    @property
    def findings(self) -> list[dict[str, Any]]:
        assert self.report is not None, self.stderr
        findings: list[dict[str, Any]] = self.report["findings"]
        return findings

    def located(self) -> set[tuple[str | None, int | None, str | None]]:
        """(file, line, rule) of every finding."""
        return {(item["file"], item["line"], item["rule"]) for item in self.findings}

    def rules(self) -> set[str | None]:
        """The rules of every finding."""
        return {item["rule"] for item in self.findings}


def run_check(
    check_id: str, submission: Path, out: Path, python: str = sys.executable, extra: tuple[str, ...] = (),
    env: dict[str, str] | None = None, prefix: tuple[str, ...] = (),
) -> CheckRun:
    """Run a check module as the sandbox does: PYTHONPATH at the checks package, cwd elsewhere (`prefix`: a
    command that runs it, e.g. `honouring_write_bits()`)."""
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT), **(env or {})}
    started = time.monotonic()
    proc = subprocess.run(
        [*prefix, python, "-m", f"checks.{check_id}", "--submission", str(submission), "--out", str(out), *extra],
        cwd=tempfile.gettempdir(), env=environment, capture_output=True, text=True, timeout=600, check=False,
    )
    seconds = time.monotonic() - started
    target = out / f"{check_id}.json"
    raw = target.read_text() if target.exists() else ""
    return CheckRun(proc.returncode, proc.stderr, json.loads(raw) if raw else None, raw, seconds)


def honouring_write_bits() -> tuple[str, ...]:
    """A command prefix under which write bits hold, as they do for the sandbox's unprivileged user: root
    without the capabilities that override file permissions; nothing when not root."""
    if os.geteuid() != 0:
        return ()
    if shutil.which("setpriv") is None:
        skip_or_fail("running as root, and setpriv (util-linux) is missing to drop the file-permission overrides")
    return ("setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner")


def readonly_copy(source: Path, target: Path) -> Path:
    """A copy of `source` with every write bit removed (as the sandbox mounts the submission)."""
    shutil.copytree(source, target, symlinks=True)
    for path in [target, *target.rglob("*")]:
        mode = path.stat().st_mode
        path.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    return target


def make_writable(root: Path) -> None:
    """Undo readonly_copy so the temporary directory can be removed."""
    for path in [root, *root.rglob("*")]:
        path.chmod(path.stat().st_mode | stat.S_IWUSR)


def snapshot(root: Path) -> dict[str, str]:
    """Every path under root with a hash of its content (root bypasses write bits: compare contents too)."""
    state: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        state[rel] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
    return state


@pytest.fixture
def readonly(tmp_path: Path) -> Iterator[Any]:
    """A factory of read-only copies that are made writable again afterwards."""
    made: list[Path] = []

    def factory(source: Path, name: str = "submission") -> Path:
        made.append(readonly_copy(source, tmp_path / name))
        return made[-1]

    yield factory
    for root in made:
        make_writable(root)


@functools.cache
def bare_python() -> str:
    """An interpreter with none of the tools installed (a venv without pip or packages)."""
    target = Path(tempfile.mkdtemp(prefix="grader-bare-venv-")) / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(target)], check=True, capture_output=True)
    return str(target / "bin" / "python")


def assert_crash(run: CheckRun, check_id: str, words: str) -> None:
    """Non-zero exit, exactly one line on stderr naming the check and saying `words`, no report."""
    assert run.returncode != 0
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith(f"checks.{check_id}: ") and words in lines[0], lines[0]
    assert run.report is None


# --- checks._common --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("rel", "test", "migration"), [
    ("app/main.py", False, False),
    ("tests/test_api.py", True, False),
    ("app/tests/helpers.py", True, False),
    ("test_x.py", True, False),
    ("app/x_test.py", True, False),
    ("conftest.py", True, False),
    ("notes/tests.py", True, False),
    ("notes/migrations/0001_initial.py", False, True),
    ("alembic/versions/abc_init.py", False, True),
    ("alembic/env.py", False, True),
    ("testing.py", False, False),
])
def test_path_classification(rel: str, test: bool, migration: bool) -> None:
    assert is_test_path(rel) is test
    assert is_migration_path(rel) is migration
    assert is_app_path(rel) is (not test and not migration)


def test_walk_skips_junk_dirs_and_symlinks(tmp_path: Path) -> None:
    for rel in ("app/main.py", ".venv/lib/x.py", "node_modules/a.js", "app/__pycache__/m.pyc", ".git/HEAD",
                "custom-env/lib.py", "custom-env/pyvenv.cfg"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x = 1\n")
    (tmp_path / "link.py").symlink_to("/etc/passwd")
    (tmp_path / "loop").symlink_to(tmp_path)
    assert [item.rel for item in walk_files(tmp_path)] == ["app/main.py"]


def test_parse_python_reports_syntax_errors_encodings_and_huge_files(tmp_path: Path) -> None:
    files = {
        "ok.py": b"x = 1\n",
        "latin.py": "# -*- coding: latin-1 -*-\nname = 'caf\xe9'\n".encode("latin-1"),
        "broken.py": b"def f(:\n    pass\n",
        "garbage.py": b"x = '\xff\xfe'\n",
        "nul.py": b"x = 1\x00\n",
        "huge.py": b"x = 1\n" * 200_000,
    }
    sources = []
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        sources.append(SourceFile(tmp_path / name, name))
    parsed, problems = parse_python(sources)
    assert [item.source.rel for item in parsed] == ["ok.py", "latin.py"]
    assert "café" in parsed[1].text
    assert {(item["file"], item["rule"]) for item in problems} == {
        ("broken.py", "syntax-error"), ("garbage.py", "syntax-error"), ("nul.py", "syntax-error"),
        ("huge.py", "file-skipped"),
    }
    assert next(item for item in problems if item["file"] == "broken.py")["line"] == 1


def test_count_code_lines_skips_blank_and_comment_lines() -> None:
    assert count_code_lines('"""Doc."""\n\n# comment\nx = 1  # trailing\n    \n') == 2


TOOL_TIMEOUT_S = 10  # long enough for the tool to start its child even on a loaded machine (well under 1 s idle)
EVENT_DEADLINE_S = 300  # waits below end on events; the deadline only turns a hang into a failure


def test_run_tool_kills_the_whole_group_on_timeout(tmp_path: Path) -> None:
    """The tool and the child it started (both would sleep for ever) are killed at the tool's timeout."""
    pid_file = tmp_path / "grandchild.pid"
    script = (f"import subprocess, sys, time; child = subprocess.Popen([sys.executable, '-c', "
              f"'import time; time.sleep(10**6)']); open({str(pid_file)!r}, 'w').write(str(child.pid)); "
              f"time.sleep(10**6)")
    results: list[Any] = []
    runner = threading.Thread(target=lambda: results.append(
        run_tool([sys.executable, "-c", script], tmp_path, tool_env(), timeout=TOOL_TIMEOUT_S)))
    runner.start()
    runner.join(EVENT_DEADLINE_S)  # returns at the tool's timeout, unless the group outlives it
    grandchild = int(pid_file.read_text())
    try:
        assert not runner.is_alive(), "run_tool did not return at the tool's timeout"
        (result,) = results
        assert result.timed_out and result.returncode is None
        deadline = time.monotonic() + EVENT_DEADLINE_S
        while not _gone(grandchild) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _gone(grandchild), "the tool's child outlived the timeout"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(grandchild, signal.SIGKILL)


def _gone(pid: int) -> bool:
    """Whether process `pid` has ended (a zombie waiting for its reaper has ended too)."""
    try:
        with open(f"/proc/{pid}/stat") as stat_file:
            return stat_file.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True
