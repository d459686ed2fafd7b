"""An output directory that cannot take the results is one sentence and exit 2, before any grading starts;
a disk that fills up while results are written is the same kind of sentence, not an internal error.

Read-only and small file systems are real tmpfs mounts (the suite runs as root, as scripts/test.sh does);
"not writable" is a directory of root's that the test reads as the `nobody` user (seteuid), since root
writes anywhere.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import grader.outdir
import grader.report  # imported here: the `nobody` user of one test may not write its bytecode
from grader.cli import main
from grader.models import GradeResult
from grader.outdir import OutputError
from grader.results import write_result
from tests.conftest import REPO_ROOT, skip_or_fail
from tests.factories import graded_result

SUBMISSION = REPO_ROOT / "tests" / "fixtures" / "submissions" / "crashes-at-start"
NOBODY = 65534


@contextlib.contextmanager
def tmpfs(where: Path, options: str) -> Iterator[Path]:
    """A tmpfs mounted at `where` with `options` (`ro`, `size=1m`), unmounted afterwards."""
    where.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        skip_or_fail("mounting a tmpfs needs root (scripts/test.sh runs the suite as root)")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True,
                          text=True, check=False)
    if done.returncode != 0:
        skip_or_fail(f"cannot mount a tmpfs: {done.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], check=True)


def fill(directory: Path) -> None:
    """Write until the file system holding `directory` has no byte left."""
    with contextlib.suppress(OSError), (directory / "filler").open("ab", buffering=0) as filler:
        for size in (1 << 16, 1 << 9, 1):
            with contextlib.suppress(OSError):
                while True:
                    filler.write(b"\0" * size)
    assert os.statvfs(directory).f_bavail == 0


def command(kind: str, out: Path, results: Path) -> list[str]:
    """The same --out for `grade`, `check` and `report`."""
    if kind == "grade":
        return ["grade", str(SUBMISSION), "--challenge", "hello-api", "--sandbox", "local", "--out", str(out)]
    if kind == "check":
        return ["check", str(SUBMISSION), "--challenge", "hello-api", "--sandbox", "local", "--out", str(out)]
    return ["report", str(results), "--out", str(out)]


@pytest.fixture
def results(tmp_path: Path) -> Path:
    """A results directory `grader report` can render."""
    directory = tmp_path / "results" / "alice"
    directory.mkdir(parents=True)
    (directory / "result.json").write_text(graded_result("alice").model_dump_json())
    return directory.parent


def assert_one_sentence_before_grading(result: Result, expected: str) -> None:
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines() == [f"error: {expected}"], result.output
    assert "internal error" not in result.output and "Traceback" not in result.output
    assert result.stdout == ""  # no result line: nothing was graded or rendered


@pytest.mark.parametrize("kind", ["grade", "check", "report"])
def test_read_only_output_dir(tmp_path: Path, results: Path, kind: str) -> None:
    with tmpfs(tmp_path / "ro", "ro,size=64m") as read_only:
        out = read_only / "results"
        result = CliRunner().invoke(main, command(kind, out, results))
    assert_one_sentence_before_grading(
        result, f"{out} is on a read-only file system: choose a writable --out directory")


@pytest.mark.parametrize("kind", ["grade", "check", "report"])
def test_output_dir_on_a_nearly_full_disk(tmp_path: Path, results: Path, kind: str) -> None:
    with tmpfs(tmp_path / "small", "size=1m") as small:
        out = small / "results"
        result = CliRunner().invoke(main, command(kind, out, results))
        assert not out.exists(), "nothing is created for a refused output directory"
    assert_one_sentence_before_grading(
        result, f"the output directory {out} has only 1 MB free and grading needs at least 100 MB: free some "
                "space or choose another --out")


@pytest.mark.parametrize("kind", ["grade", "check", "report"])
def test_output_dir_this_user_cannot_write(results: Path, kind: str) -> None:
    # Under /tmp (traversable by everyone), not pytest's tmp_path, which only root may enter.
    base = Path(tempfile.mkdtemp(prefix="grader-test-out-"))
    try:
        base.chmod(0o755)
        locked = base / "locked"
        locked.mkdir(mode=0o555)
        out = locked / "results"
        with as_nobody():
            result = CliRunner().invoke(main, command(kind, out, results.parent.parent / "nobody-cannot-read"))
    finally:
        locked.chmod(0o755)
        for path in sorted(base.rglob("*"), reverse=True):
            path.rmdir() if path.is_dir() else path.unlink()
        base.rmdir()
    assert_one_sentence_before_grading(
        result, f"{out} is not writable by this user: choose another --out directory or change its permissions")


@contextlib.contextmanager
def as_nobody() -> Iterator[None]:
    """Run the block with the file permissions of `nobody` (root would write anywhere)."""
    if os.geteuid() != 0:  # an ordinary user cannot write into a 0555 directory either
        yield
        return
    os.setegid(NOBODY)
    os.seteuid(NOBODY)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)


def test_disk_full_while_grading_is_one_sentence_and_keeps_nothing_half_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The disk fills up after the check passed (here: the check's minimum is lowered to let it pass)."""
    monkeypatch.setattr(grader.outdir, "MIN_FREE_BYTES", 0)
    with tmpfs(tmp_path / "full", "size=1m") as full:
        out = full / "results"
        out.mkdir()
        fill(full)
        result = CliRunner().invoke(main, command("grade", out, tmp_path))
        leftovers = sorted(str(p.relative_to(out)) for p in out.rglob("*.tmp"))
    assert result.exit_code == 2, result.output
    [line] = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert line.startswith("error: the disk holding ") and line.endswith(
        " is full: free some space or choose another --out directory, then run again (finished results are kept)")
    assert str(out) in line
    assert "internal error" not in result.output and "Traceback" not in result.output
    assert leftovers == []


def test_disk_full_while_rendering_reports(tmp_path: Path, results: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(grader.outdir, "MIN_FREE_BYTES", 0)
    with tmpfs(tmp_path / "full", "size=1m") as full:
        fill(full)
        result = CliRunner().invoke(main, ["report", str(results), "--out", str(full / "reports")])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"error: the disk holding {full / 'reports'}")
    assert "is full: free some space" in result.stderr and len(result.stderr.splitlines()) == 1


def test_write_result_on_a_full_disk_raises_output_error_and_leaves_no_partial_file(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "full", "size=1m") as full:
        fill(full)
        with pytest.raises(OutputError, match=r"the disk holding .*result\.json is full"):
            write_result(GradeResult.model_validate(graded_result("alice").model_dump()), full)
        assert sorted(p.name for p in full.iterdir()) == ["filler"]
