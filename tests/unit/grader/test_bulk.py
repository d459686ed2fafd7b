"""Batch grading without an engine: folder expansion, names, jobs, isolation, Ctrl-C, progress output.

A fake sandbox stands in for Docker here; tests/docker/grader/test_bulk.py runs the same paths on the real engine.
"""

from __future__ import annotations

import _thread
import json
import os
import tarfile
import threading
import time
import zipfile
from pathlib import Path

import pytest

import grader.bulk.runner as runner_module
import grader.pipeline
import grader.steps.environment
from grader import cache
from grader.bulk import (
    Batch,
    BatchItem,
    CacheLimit,
    PlainDisplay,
    Runner,
    Survey,
    batch_names,
    default_jobs,
    expand_submissions,
    format_seconds,
    is_cohort_folder,
    plan_batch,
    run_batch,
    skipped_lines,
    survey_submissions,
)
from grader.challenge import load_challenge
from grader.checks.spec import CheckContext, RunsIn
from grader.cohort import record_folders, skipped_in
from grader.environments import WheelSet
from grader.hooks import GradingCancelled, GradingHooks
from grader.models import AppRun
from grader.resolve import Resolution
from grader.sandbox.base import (
    AppRunRequest,
    Environment,
    EnvironmentRequest,
    Environments,
    Foundation,
    RunOutcome,
    Sandbox,
    StaticJob,
)


def make_project(path: Path, code: str = "print('hi')\n") -> Path:
    path.mkdir(parents=True)
    (path / "app.py").write_text(code)
    return path


# --- input -------------------------------------------------------------------------------------------------


def test_cohort_folder_expands_to_its_submissions(tmp_path: Path) -> None:
    cohort = tmp_path / "cohort"
    make_project(cohort / "bob")
    make_project(cohort / "alice")
    (cohort / "carol.zip").write_bytes(b"PK")
    (cohort / "notes.txt").write_text("not a submission")
    (cohort / ".hidden").mkdir()
    (cohort / "__pycache__").mkdir()
    assert is_cohort_folder(cohort)
    assert [p.name for p in expand_submissions([cohort])] == ["alice", "bob", "carol.zip"]


def pack(archive: Path, mode: str, project: Path) -> Path:
    """A tar archive of `project` (mode `w:xz`, `w:bz2`, ...) or, for mode `zip`, a zip."""
    if mode == "zip":
        with zipfile.ZipFile(archive, "w") as handle:
            for file in project.rglob("*"):
                handle.write(file, f"{project.name}/{file.relative_to(project)}")
    else:
        with tarfile.open(archive, mode) as handle:
            handle.add(project, arcname=project.name)
    return archive


def test_a_cohort_folder_says_what_it_skips_and_why(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")
    cohort = tmp_path / "cohort"
    cohort.mkdir()
    pack(cohort / "alice.tar.xz", "w:xz", project)
    pack(cohort / "bob.tar.bz2", "w:bz2", project)
    pack(cohort / "dave.upload", "w:gz", project)  # an archive by content, whatever its name
    pack(cohort / "erin.bin", "zip", project)
    pack(cohort / "brief.docx", "zip", project)  # a zip by content, but a document by name
    (cohort / "carol.rar").write_bytes(b"Rar!\x1a\x07\x01\x00" + b"\x00" * 32)
    (cohort / "frank.7z").write_bytes(b"7z\xbc\xaf\x27\x1c" + b"\x00" * 32)
    (cohort / "notes.txt").write_text("not a submission")
    (cohort / ".DS_Store").write_bytes(b"\x00")
    (cohort / "__pycache__").mkdir()
    (cohort / "linked").symlink_to(project)
    make_project(cohort / "gina")
    survey = survey_submissions([cohort])
    assert [p.name for p in survey.submissions] == ["alice.tar.xz", "bob.tar.bz2", "dave.upload", "erin.bin", "gina"]
    reasons = {entry.name: entry.reason for entry in survey.skipped}
    assert reasons == {
        ".DS_Store": "a hidden entry",
        "__pycache__": "a tool's cache folder, not a submission",
        "brief.docx": "not a submission: a .docx document or package",
        "carol.rar": "a RAR archive: the grader reads zip and tar archives (gz, bz2, xz); repack it as .zip",
        "frank.7z": "a 7z archive: the grader reads zip and tar archives (gz, bz2, xz); repack it as .zip",
        "linked": "a symbolic link to a folder: the grader does not follow it; copy the submission in",
        "notes.txt": "not a submission: a plain file",
    }
    assert all(entry.folder == str(cohort) for entry in survey.skipped)
    lines = skipped_lines(survey)
    assert lines[0] == f"{cohort}: 7 of 12 entries not graded:"
    assert "  carol.rar: a RAR archive: the grader reads zip and tar archives (gz, bz2, xz); repack it as .zip" in lines
    assert batch_names(survey.submissions)[:4] == ["alice", "bob", "dave.upload", "erin.bin"]


def test_a_folder_of_only_unreadable_archives_is_a_cohort_with_nothing_to_grade(tmp_path: Path) -> None:
    cohort = tmp_path / "cohort"
    cohort.mkdir()
    (cohort / "alice.rar").write_bytes(b"Rar!")
    assert is_cohort_folder(cohort)
    survey = survey_submissions([cohort])
    assert survey.submissions == [] and [entry.name for entry in survey.skipped] == ["alice.rar"]


def test_given_submissions_are_never_skipped(tmp_path: Path) -> None:
    """Only a cohort folder's entries are surveyed: an argument is graded (into an error when unreadable)."""
    rar = tmp_path / "alice.rar"
    rar.write_bytes(b"Rar!")
    assert survey_submissions([rar]) == Survey([rar], [])


@pytest.mark.parametrize("marker", ["main.py", "pyproject.toml", "requirements.txt", "manage.py", ".git"])
def test_a_project_folder_is_one_submission(tmp_path: Path, marker: str) -> None:
    project = tmp_path / "project"
    (project / "pkg").mkdir(parents=True)
    (project / "pkg" / "app.py").write_text("x = 1\n")
    (project / marker).mkdir() if marker == ".git" else (project / marker).write_text("")
    assert not is_cohort_folder(project)
    assert expand_submissions([project]) == [project]


def test_archives_and_repeats_are_kept_once_in_order(tmp_path: Path) -> None:
    archive = tmp_path / "dave.tar.gz"
    archive.write_bytes(b"")
    project = make_project(tmp_path / "erin")
    assert expand_submissions([archive, project, archive]) == [archive, project]


def test_duplicate_names_get_a_stable_suffix(tmp_path: Path) -> None:
    first, second = make_project(tmp_path / "a" / "alice"), tmp_path / "b" / "alice.zip"
    second.parent.mkdir()
    second.write_bytes(b"")
    other = make_project(tmp_path / "bob")
    names = batch_names([first, second, other])
    assert names[2] == "bob"
    assert names[0] != names[1] and all(n.startswith("alice-") and len(n) == len("alice-") + 6 for n in names[:2])
    assert batch_names([first, second, other]) == names  # the same in every run: results are found again


def test_default_jobs_is_at_least_one_and_one_without_concurrency() -> None:
    assert default_jobs() >= 1
    assert default_jobs(FakeSandbox(concurrent=False)) == 1


def test_eta_from_finished_gradings() -> None:
    batch = Batch([BatchItem(i, Path(f"s{i}"), f"s{i}") for i in range(4)], jobs=2)
    assert batch.eta() is None
    now = time.monotonic()
    for item in batch.items[:2]:
        item.started, item.finished, item.state = now - 10, now, "done"
    assert batch.eta() == pytest.approx(10.0)  # two left, 10 s each, two at a time
    assert format_seconds(75.2) == "1m15s" and format_seconds(None) == "…"


# --- running with a fake sandbox ---------------------------------------------------------------------------


class FakeSandbox(Sandbox):
    """Prepares nothing; `hang*` submissions run until aborted; `crash*` ones raise inside the backend."""

    name = "local"
    isolated = False
    wheel_target = "host"

    def __init__(self, concurrent: bool = True) -> None:
        self.concurrent_runs = concurrent
        self.aborted = threading.Event()
        self.abort_calls = 0

    def foundation(self) -> Foundation:
        return Foundation(kind="interpreter", name="python", identity="3", python="3")

    def build(self, foundation: Foundation, request: EnvironmentRequest) -> Environment:
        return Environment(backend="local", key="fake", python=request.python, reused=True)

    def check_context(self, runs_in: RunsIn, environments: Environments, input_dir: Path, output_dir: Path,
                      app_url: str = "") -> CheckContext:
        return CheckContext(str(input_dir), str(output_dir), app_url=app_url)

    def run(self, request: AppRunRequest) -> RunOutcome:
        if "hang" in request.snapshot.name:
            self.aborted.wait(30)
        if "crash" in request.snapshot.name:
            raise RuntimeError("engine went away")
        return RunOutcome(app=AppRun(started=False, problem="did not start: fake"), report=None)

    def run_static(self, job: StaticJob) -> None:
        return None

    def abort(self) -> None:
        self.abort_calls += 1
        self.aborted.set()


class Recorder(PlainDisplay):
    def __init__(self) -> None:
        self.lines: list[str] = []
        super().__init__(self.lines.append)


@pytest.fixture
def no_downloads(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    empty = WheelSet(tmp_path, (), Resolution((), (), None, "none"))
    monkeypatch.setattr(grader.steps.environment, "prepare_wheels", lambda *args, **kwargs: empty)


def runnable(tmp_path: Path, *names: str) -> list[Path]:
    code = "from flask import Flask\napp = Flask(__name__)\n"
    return [make_project(tmp_path / "in" / name, code + f"# {name}\n") for name in names]


@pytest.mark.usefixtures("no_downloads")
def test_a_crash_in_one_grading_is_recorded_and_the_others_finish(tmp_path: Path) -> None:
    sandbox, display = FakeSandbox(), Recorder()
    batch = plan_batch(runnable(tmp_path, "ok-1", "crash-2", "ok-3"), jobs=2)
    finished: list[str] = []
    run_batch(batch, Runner(load_challenge("hello-api"), sandbox, tmp_path / "out", False, display),
              lambda item: finished.append(item.name))
    assert sorted(finished) == ["crash-2", "ok-1", "ok-3"]
    states = {item.name: item.state for item in batch.items}
    assert states == {"ok-1": "done", "crash-2": "error", "ok-3": "done"}
    crashed = json.loads((tmp_path / "out" / "crash-2" / "result.json").read_text())
    assert crashed["status"] == "error" and "RuntimeError: engine went away" in crashed["error"]
    assert any("3/3 finished" in line for line in display.lines)


@pytest.mark.usefixtures("no_downloads")
def test_ctrl_c_cancels_queued_stops_running_and_keeps_finished(tmp_path: Path) -> None:
    sandbox = FakeSandbox()
    batch = plan_batch(runnable(tmp_path, "ok-1", "hang-2", "later-3"), jobs=1)
    runner = Runner(load_challenge("hello-api"), sandbox, tmp_path / "out", False, Recorder())

    def interrupt_when_hanging() -> None:
        # An event, not a time limit: the wait ends as soon as hang-2 runs its app; the deadline only
        # guards against a hang and is generous for a loaded machine (load average 8 on 2 cores).
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and "app" not in batch.items[1].active:
            time.sleep(0.05)
        _thread.interrupt_main()  # what Ctrl-C does: KeyboardInterrupt in the main thread only

    threading.Thread(target=interrupt_when_hanging, daemon=True).start()
    run_batch(batch, runner, lambda item: None)
    assert batch.interrupted and sandbox.abort_calls >= 1
    assert [item.state for item in batch.items] == ["done", "cancelled", "cancelled"]
    assert (tmp_path / "out" / "ok-1" / "result.json").is_file()
    assert not (tmp_path / "out" / "hang-2" / "result.json").exists()
    assert not (tmp_path / "out" / "later-3").exists()


@pytest.mark.usefixtures("no_downloads")
def test_stages_are_reported_in_order(tmp_path: Path) -> None:
    seen: list[tuple[str, bool]] = []
    hooks = GradingHooks(name="staged", on_stage=lambda stage, active: seen.append((stage, active)))
    source = runnable(tmp_path, "staged")[0]
    grader.pipeline.grade_submission(source, load_challenge("hello-api"), FakeSandbox(concurrent=False),
                                     tmp_path / "out", log=lambda _: None, hooks=hooks)
    started = [stage for stage, active in seen if active]
    assert started == ["intake", "environment", "static checks", "tests", "app"]
    assert len(seen) == 2 * len(started)


def test_a_cancelled_grading_writes_nothing(tmp_path: Path) -> None:
    hooks = GradingHooks(name="never")
    hooks.cancel.set()
    with pytest.raises(GradingCancelled):
        grader.pipeline.grade_submission(runnable(tmp_path, "never")[0], load_challenge("hello-api"),
                                         FakeSandbox(), tmp_path / "out", log=lambda _: None, hooks=hooks)
    assert not (tmp_path / "out" / "never" / "result.json").exists()


def test_cohort_json_keeps_one_record_per_folder_and_a_regrade_replaces_it(tmp_path: Path) -> None:
    out = tmp_path / "out"
    first, second = tmp_path / "a", tmp_path / "b"
    for folder in (first, second):
        make_project(folder / "alice")
        (folder / "carol.rar").write_bytes(b"Rar!")
    record_folders(out, survey_submissions([first, second]).folders)
    assert [e.name for e in skipped_in([out])] == ["carol.rar", "carol.rar"]
    (first / "carol.rar").unlink()  # fixed and graded again: its record no longer lists the RAR
    record_folders(out, survey_submissions([first]).folders)
    assert [(Path(e.folder).name, e.name) for e in skipped_in([out])] == [("b", "carol.rar")]
    assert skipped_in([tmp_path / "nothing-here"]) == []
    (out / "cohort.json").write_text("{ not json")
    assert skipped_in([out]) == []  # an unreadable record shows no list rather than failing the report
    assert record_folders(out, []) is None


@pytest.mark.usefixtures("no_downloads")
def test_a_configured_cache_size_is_kept_during_the_batch_and_at_its_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "cache"
    monkeypatch.setenv("GRADER_CACHE_DIR", str(root))
    stale = [_cache_entry(root, "worker-results", f"k-{n}", days) for n, days in enumerate((9, 7, 5))]
    limit = CacheLimit(max_bytes=1, images=None, every=5)
    display = Recorder()
    batch = plan_batch(runnable(tmp_path, *(f"ok-{n}" for n in range(6))), jobs=2)
    run_batch(batch, Runner(load_challenge("hello-api"), FakeSandbox(), tmp_path / "out", False, display,
                            cache_limit=limit), lambda item: None)
    assert limit.finished == 6 and limit.removed >= 3 and limit.freed >= 300_000
    assert not any(entry.exists() for entry in stale)
    assert any("least recently used entr" in line and "to stay within 1 B" in line for line in display.lines)
    # Once no grading runs, what the batch itself wrote (its snapshots) may go too: the cache ends within size.
    left = [group for group in cache.disk_groups() if group.name not in ("locks", "usage") and group.entries]
    assert left == [], left


def _cache_entry(root: Path, group: str, name: str, days_old: float) -> Path:
    entry = root / group / name
    entry.mkdir(parents=True)
    (entry / "result.json").write_bytes(b"x" * 100_000)
    stamp = time.time() - days_old * 86_400
    os.utime(entry, (stamp, stamp))
    return entry


def test_while_gradings_run_what_they_may_use_is_kept_and_the_downloads_store_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "cache"
    monkeypatch.setenv("GRADER_CACHE_DIR", str(root))
    before = _cache_entry(root, "snapshots", "used-before-it-started", 120 / 86_400)
    since = _cache_entry(root, "snapshots", "used-since-it-started", 30 / 86_400)
    stored = _cache_entry(root, "files", "0123abcd", 9)
    batch = plan_batch(runnable(tmp_path, "running", "queued"), jobs=2)
    running = batch.items[0]
    running.started, running.state = time.monotonic() - 60, "app"
    limit, lines = CacheLimit(max_bytes=1, images=None, every=1), []
    limit.after_grading(lines.append, runner_module._in_flight_since(batch))
    assert not before.exists() and since.exists(), "an entry touched since the running grading began was removed"
    assert stored.exists(), "a stored download went while a grading may be linking it"
    limit.fit(lines.append, keep_used_after=time.time())  # the batch's end: nothing runs
    assert not since.exists() and not stored.exists()


def test_a_cache_limit_fits_at_most_once_per_interval(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "cache"
    monkeypatch.setenv("GRADER_CACHE_DIR", str(root))
    limit, lines = CacheLimit(max_bytes=1, images=None, every=1, interval_s=3600), []
    first = _cache_entry(root, "snapshots", "first", 2)
    limit.after_grading(lines.append)
    second = _cache_entry(root, "snapshots", "second", 2)
    limit.after_grading(lines.append)  # an hour has not passed: this grading does not pay for a fit
    assert not first.exists() and second.exists() and limit.finished == 2
    limit.fit(lines.append, keep_used_after=time.time(), wait=True)  # the batch's end always fits
    assert not second.exists()
