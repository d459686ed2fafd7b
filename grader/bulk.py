"""Grade a cohort: expand folders into submissions, grade them in parallel, show progress, survive Ctrl-C.

- **Input.** Each argument is a submission (a directory, an archive, a git repository) unless it is a
  *cohort folder*: a directory with no `.py` file and no project file (`pyproject.toml`,
  `requirements.txt`, `Pipfile`, `Procfile`, `setup.py`, `setup.cfg`, `manage.py`) and nothing only a
  repository has (`.git`, `.github`, `.gitignore`, a README, Dockerfile, compose file or Makefile) at its
  top level, that holds subdirectories or archives; a monorepo (`backend/`, `frontend/` and a README) is one
  submission, graded from its Python folder (`grader.project`). A cohort folder stands for its
  subdirectories and archives, in name order; archives are what `tarfile` (plain, gz, bz2, xz) and
  `zipfile` read, recognised by content. Every other entry (hidden entries, tool caches such as
  `__pycache__`, plain files, RAR or 7z archives) is *skipped* and listed with its reason
  (`survey_submissions`, `skip_reason`): in the terminal before grading and in the cohort reports. A
  project whose code lives only in a package directory and has no project file at all would read as a
  cohort folder: pass its entries' parent instead, or add a `pyproject.toml`.
- **Names.** Each submission's results go to `OUT/<name>/`. Two submissions with the same name in one
  batch (`a/alice` and `b/alice.zip`) both get a suffix from a hash of their path (`alice-3f9c2a`), the
  same in every run, so neither overwrites the other and re-runs still find their results.
- **Parallelism.** `jobs` gradings run at once in worker threads sharing one sandbox (its Docker client is
  safe to share). Each grading is independent: its own snapshot, output directory and containers. The
  local backend, whose clean-up relies on Ctrl-C reaching the grading's own thread, grades one at a time
  in the calling thread.
- **Failure isolation.** A grading that cannot be graded gets an error `result.json` saying why; an
  unexpected exception in one grading is recorded the same way and the others go on.
- **Ctrl-C.** Queued gradings are cancelled, the running ones are told to stop (`GradingHooks.cancel`),
  the sandbox removes every container of this session at once (`Sandbox.abort`), finished results stay.
"""

from __future__ import annotations

import hashlib
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

from rich.markup import escape

from grader import __version__
from grader.challenge import challenge_content_hash
from grader.cohort import CohortFolder, SkippedEntry, folder_key
from grader.hooks import GradingCancelled, GradingHooks, Stage
from grader.intake import READABLE_ARCHIVES, archive_kind, submission_name, unreadable_format
from grader.models import Challenge, GradeResult
from grader.outdir import OutputError, as_output_error
from grader.pipeline import GradingOptions, grade_submission
from grader.results import result_dir, write_result
from grader.sandbox.base import Sandbox

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.live import Live

# Zip files by content that are no submission: office documents, e-books, Java and Python packages.
ZIP_BASED_FORMATS = frozenset({
    ".docx", ".xlsx", ".pptx", ".odt", ".ods", ".odp", ".epub", ".jar", ".war", ".whl", ".apk", ".ipa",
    ".xpi", ".vsix", ".nupkg", ".key", ".pages", ".numbers",
})
PROJECT_FILES = frozenset({
    "pyproject.toml", "requirements.txt", "Pipfile", "Procfile", "setup.py", "setup.cfg", "manage.py",
})
SKIPPED_ENTRIES = frozenset({"__pycache__", "node_modules", "__MACOSX"})
# What only a repository has at its top, never a folder of submissions: a monorepo is one submission.
REPOSITORY_MARKERS = (".git", ".github", ".gitlab-ci.yml", ".gitignore")
REPOSITORY_FILE_PREFIXES = ("readme", "dockerfile", "docker-compose", "compose.y", "makefile")
GIB = 1024**3
GIB_PER_JOB = 2  # a grading's containers peak well under 1 GiB besides the app; leave room for the app
ABORT_GRACE_S = 20.0  # after Ctrl-C, how long running gradings get to notice their sandboxes are gone

State = Literal["queued", "intake", "environment", "static checks", "tests", "app", "done", "reused", "error",
                "cancelled"]
STAGE_ORDER: tuple[Stage, ...] = ("intake", "environment", "static checks", "tests", "app")


# --- input ------------------------------------------------------------------------------------------------


def is_archive(path: Path) -> bool:
    """A file the intake unpacks as a submission: a zip or tar (plain, gz, bz2, xz) by its content, or a
    file named like one (a damaged archive is graded into an error that says so)."""
    return archive_kind(path) is not None


def is_cohort_folder(path: Path) -> bool:
    """Whether a directory holds submissions rather than being one (the rule in the module docstring)."""
    if not path.is_dir() or any((path / name).exists() for name in REPOSITORY_MARKERS):
        return False
    entries = [entry for entry in path.iterdir() if not entry.name.startswith(".")]
    if any(entry.name in PROJECT_FILES or (entry.suffix == ".py" and entry.is_file()) for entry in entries):
        return False
    if any(entry.name.lower().startswith(REPOSITORY_FILE_PREFIXES) and entry.is_file() for entry in entries):
        return False  # a monorepo: its Python project lives in a subfolder (grader.project)
    # An archive the grader cannot read counts too: it is listed as skipped instead of the folder being
    # graded as one submission with "no Python file".
    return any(skip_reason(entry) is None or _unreadable_archive(entry) for entry in entries)


def _unreadable_archive(entry: Path) -> bool:
    return entry.is_file() and unreadable_format(entry) is not None


def skip_reason(entry: Path) -> str | None:
    """Why an entry of a cohort folder is not graded (one phrase for the reviewer), or None: a submission."""
    name = entry.name
    if name.startswith("."):
        return "a hidden entry"
    if name == "__MACOSX":
        return "macOS Finder's metadata folder, not a submission"
    if name in SKIPPED_ENTRIES:
        return "a tool's cache folder, not a submission"
    if entry.is_symlink() and entry.is_dir():
        return "a symbolic link to a folder: the grader does not follow it; copy the submission in"
    if entry.is_dir():
        return None
    if not entry.exists():
        return "a symbolic link to nothing"
    if not entry.is_file():
        return "not a submission: neither a plain file nor a folder"
    if is_archive(entry):
        suffix = entry.suffix.lower()
        return f"not a submission: a {suffix} document or package" if suffix in ZIP_BASED_FORMATS else None
    what = unreadable_format(entry)
    if what is not None:
        return f"{what}: the grader reads {READABLE_ARCHIVES}; repack it as .zip"
    return "not a submission: a plain file"


@dataclass(frozen=True)
class Survey:
    """The submissions the arguments stand for, and each cohort folder's entries that are not graded."""

    submissions: list[Path]
    folders: list[CohortFolder]

    @property
    def skipped(self) -> list[SkippedEntry]:
        """Every skipped entry, folder by folder."""
        return [entry for folder in self.folders for entry in folder.skipped]


def survey_submissions(paths: Iterable[Path]) -> Survey:
    """Every submission the arguments stand for, in argument order (a cohort folder's entries by name),
    and what each cohort folder held that is not graded, with the reason.

    The same path given twice (or found twice) is graded once.
    """
    found: list[Path] = []
    folders: list[CohortFolder] = []
    seen: set[str] = set()
    for path in paths:
        members = [path]
        if is_cohort_folder(path):
            folder, members = _survey_folder(path)
            folders.append(folder)
        for member in members:
            key = os.path.realpath(member)
            if key not in seen:
                seen.add(key)
                found.append(member)
    return Survey(found, folders)


def _survey_folder(path: Path) -> tuple[CohortFolder, list[Path]]:
    key = folder_key(path)
    members: list[Path] = []
    skipped: list[SkippedEntry] = []
    for entry in sorted(path.iterdir()):
        reason = skip_reason(entry)
        if reason is None:
            members.append(entry)
        else:
            skipped.append(SkippedEntry(folder=key, name=entry.name, reason=reason))
    return CohortFolder(folder=key, submissions=[m.name for m in members], skipped=skipped), members


def expand_submissions(paths: Iterable[Path]) -> list[Path]:
    """Every submission the arguments stand for (`survey_submissions` without the skipped entries)."""
    return survey_submissions(paths).submissions


def skipped_lines(survey: Survey) -> list[str]:
    """What the terminal shows before grading: per cohort folder, a count, then each entry and its reason."""
    lines: list[str] = []
    for folder in survey.folders:
        if folder.skipped:
            total = len(folder.skipped) + len(folder.submissions)
            lines.append(f"{folder.folder}: {len(folder.skipped)} of {total} entries not graded:")
            lines += [f"  {entry.name}: {entry.reason}" for entry in folder.skipped]
    return lines


def batch_names(sources: Sequence[Path]) -> list[str]:
    """Output names, one per source: the submission's name, suffixed with a path hash when it repeats."""
    names = [submission_name(source) for source in sources]
    repeated = {name for name in names if names.count(name) > 1}
    unique = []
    for source, name in zip(sources, names, strict=True):
        if name in repeated:
            digest = hashlib.sha256(os.path.realpath(source).encode()).hexdigest()[:6]
            name = f"{name[:57]}-{digest}"
        unique.append(name)
    return unique


def default_jobs(sandbox: Sandbox | None = None) -> int:
    """Parallel gradings by default: min(CPUs, available GiB // 2), at least 1; 1 on a non-concurrent sandbox."""
    if sandbox is not None and not sandbox.concurrent_runs:
        return 1
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(cpus, available_memory() // (GIB_PER_JOB * GIB)))


def available_memory() -> int:
    """Bytes of memory available to new work (`MemAvailable`), or a large number when unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 64 * GIB


# --- state ------------------------------------------------------------------------------------------------


@dataclass
class BatchItem:
    """One submission of the batch and what happened to it so far."""

    index: int
    source: Path
    name: str
    state: State = "queued"
    active: list[Stage] = field(default_factory=list)
    started: float | None = None
    finished: float | None = None
    message: str = ""
    result: GradeResult | None = None

    @property
    def elapsed(self) -> float:
        """Seconds since the grading started (to its end when finished)."""
        if self.started is None:
            return 0.0
        return (self.finished or time.monotonic()) - self.started

    @property
    def label(self) -> str:
        """The state as shown: overlapping stages joined (`static checks + tests + app`)."""
        if self.active:
            return " + ".join(stage for stage in STAGE_ORDER if stage in self.active)
        return self.state


class Display(Protocol):
    """Where a batch reports progress (a live table on a terminal, plain lines elsewhere)."""

    def start(self, batch: Batch) -> None:
        """The batch is about to run."""

    def changed(self, item: BatchItem) -> None:
        """An item's state changed (called from worker threads)."""

    def log(self, item: BatchItem | None, message: str) -> None:
        """A progress line from the pipeline (item) or the sandbox (None)."""

    def stop(self) -> None:
        """The batch is over."""


@dataclass
class Batch:
    """A batch of submissions, its settings and shared progress state (guarded by `lock`)."""

    items: list[BatchItem]
    jobs: int
    started: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)
    interrupted: bool = False
    output_error: OutputError | None = None  # the disk filled up or went read-only: the batch stopped

    def count(self, *states: State) -> int:
        """Items in any of `states`."""
        return sum(item.state in states for item in self.items)

    def eta(self) -> float | None:
        """Seconds until the batch is done, from the mean time of the gradings that ran; None before one did."""
        ran = [item.elapsed for item in self.items if item.state in ("done", "error") and item.finished]
        if not ran:
            return None
        mean = sum(ran) / len(ran)
        queued = self.count("queued")
        running = [item for item in self.items if item.started is not None and item.finished is None]
        left = queued * mean + sum(max(mean - item.elapsed, 0.0) for item in running)
        return left / max(1, min(self.jobs, queued + len(running)))


def plan_batch(sources: Sequence[Path], jobs: int) -> Batch:
    """A batch over `sources` with unique output names."""
    names = batch_names(sources)
    items = [BatchItem(i, source, name) for i, (source, name) in enumerate(zip(sources, names, strict=True))]
    return Batch(items, max(1, jobs))


# --- running ----------------------------------------------------------------------------------------------


@dataclass
class Runner:
    """Everything one grading of the batch needs; shared by the worker threads."""

    challenge: Challenge
    sandbox: Sandbox
    out_dir: Path
    force: bool
    display: Display
    cancel: threading.Event = field(default_factory=threading.Event)
    options: GradingOptions = field(default_factory=GradingOptions)

    def grade(self, batch: Batch, item: BatchItem) -> None:
        """Grade one item; any failure becomes its error result, cancellation leaves no result."""
        with batch.lock:
            item.started, item.state = time.monotonic(), "intake"
        self.display.changed(item)
        hooks = GradingHooks(name=item.name, cancel=self.cancel, on_stage=self._stage_listener(batch, item))
        try:
            item.result = grade_submission(item.source, self.challenge, self.sandbox, self.out_dir,
                                           log=lambda message: self.display.log(item, message), force=self.force,
                                           hooks=hooks, options=self.options)
            final: State = "reused" if hooks.reused else "done" if item.result.status == "graded" else "error"
        except GradingCancelled:
            final = "cancelled"
        except Exception as exc:  # a bug or an engine failure in one grading must not stop the others
            final = self._failed(batch, item, exc)
        with batch.lock:
            item.finished, item.state, item.active = time.monotonic(), final, []
        self.display.changed(item)

    def _stage_listener(self, batch: Batch, item: BatchItem) -> Callable[[Stage, bool], None]:
        def listener(stage: Stage, active: bool) -> None:
            with batch.lock:
                if active and stage not in item.active:
                    item.active.append(stage)
                elif not active and stage in item.active:
                    item.active.remove(stage)
                item.state = stage if active else item.state
            self.display.changed(item)

        return listener

    def _failed(self, batch: Batch, item: BatchItem, exc: Exception) -> State:
        """An error result for a grading that raised, unless the output's disk is full or read-only: that
        stops the whole batch (every grading would fail to write), keeping what was written."""
        if self.cancel.is_set():
            return "cancelled"
        stop = as_output_error(exc, self.out_dir)
        if stop is None:
            try:
                item.result = self._crashed(item, f"internal error: {type(exc).__name__}: {exc}")
                return "error"
            except Exception as write_exc:
                stop = as_output_error(write_exc, self.out_dir)
                if stop is None:
                    raise
        batch.output_error = stop
        self.cancel.set()
        self.sandbox.abort()
        return "cancelled"

    def _crashed(self, item: BatchItem, message: str) -> GradeResult:
        """An error result for a grading that raised; written like any other result."""
        result = GradeResult(
            grader_version=__version__,
            graded_at=datetime.now(UTC).isoformat(timespec="seconds"),
            status="error",
            error=message,
            challenge={"id": self.challenge.id, "title": self.challenge.title,
                       "content_hash": challenge_content_hash(self.challenge)},
            submission=None,
            sandbox=None,
            overall=None,
            evaluated_weight=0,
        )
        write_result(result, result_dir(self.out_dir, item.name))
        self.display.log(item, f"{item.name}: not graded: {message}")
        return result


def run_batch(batch: Batch, runner: Runner, on_finished: Callable[[BatchItem], None]) -> Batch:
    """Grade every item, `batch.jobs` at a time; `on_finished` runs in the calling thread per finished item.

    Returns when all are done, or after Ctrl-C (then `batch.interrupted` is set and the unfinished
    items are `cancelled`). Never raises KeyboardInterrupt.
    """
    runner.display.start(batch)
    try:
        if runner.sandbox.concurrent_runs:
            _run_threaded(batch, runner, on_finished)
        else:
            _run_inline(batch, runner, on_finished)
    finally:
        runner.display.stop()
    return batch


def _run_inline(batch: Batch, runner: Runner, on_finished: Callable[[BatchItem], None]) -> None:
    """One at a time in this thread: Ctrl-C reaches the backend, whose clean-up runs as it unwinds."""
    try:
        for item in batch.items:
            runner.grade(batch, item)
            on_finished(item)
    except KeyboardInterrupt:
        _interrupted(batch, runner)
    finally:
        _close(batch)


def _close(batch: Batch) -> None:
    """After an interruption, whatever did not finish is `cancelled` (it left no result)."""
    with batch.lock:
        for item in batch.items:
            if item.state not in ("done", "reused", "error", "cancelled"):
                item.state, item.active = "cancelled", []


def _run_threaded(batch: Batch, runner: Runner, on_finished: Callable[[BatchItem], None]) -> None:
    """Daemon worker threads take items from a queue; this thread waits, reports, and handles Ctrl-C."""
    todo: queue.Queue[BatchItem] = queue.Queue()
    for item in batch.items:
        todo.put(item)
    done: queue.Queue[BatchItem] = queue.Queue()
    workers = [threading.Thread(target=_work, args=(batch, runner, todo, done), daemon=True, name=f"grader-{n}")
               for n in range(min(batch.jobs, len(batch.items)))]
    for worker in workers:
        worker.start()
    reported = 0
    try:
        while reported < len(batch.items):
            try:
                item = done.get(timeout=0.25)
            except queue.Empty:
                continue
            reported += 1
            if item.state != "cancelled":
                on_finished(item)
    except KeyboardInterrupt:
        _interrupted(batch, runner)
        _drain(workers, done, on_finished)
        runner.sandbox.abort()  # what a grading started while the others were stopping
    finally:
        _close(batch)


def _work(batch: Batch, runner: Runner, todo: queue.Queue[BatchItem], done: queue.Queue[BatchItem]) -> None:
    while True:
        try:
            item = todo.get_nowait()
        except queue.Empty:
            return
        if runner.cancel.is_set():
            with batch.lock:
                item.state = "cancelled"
        else:
            runner.grade(batch, item)
        done.put(item)


def _interrupted(batch: Batch, runner: Runner) -> None:
    """Ctrl-C: cancel what has not started, stop what runs, remove this session's containers."""
    batch.interrupted = True
    runner.cancel.set()
    runner.display.log(None, "interrupted: stopping the running gradings and removing their sandboxes")
    with batch.lock:
        for item in batch.items:
            if item.state == "queued":
                item.state = "cancelled"
    runner.sandbox.abort()


def _drain(workers: list[threading.Thread], done: queue.Queue[BatchItem],
           on_finished: Callable[[BatchItem], None]) -> None:
    """Give running gradings a moment to end (their containers are gone), report those that finished
    anyway, and remove what started in the meantime. A second Ctrl-C stops waiting."""
    deadline = time.monotonic() + ABORT_GRACE_S
    try:
        for worker in workers:
            worker.join(max(0.0, deadline - time.monotonic()))
    except KeyboardInterrupt:
        pass
    while True:
        try:
            item = done.get_nowait()
        except queue.Empty:
            break
        if item.state in ("done", "reused", "error") and item.result is not None:
            on_finished(item)



# --- progress displays ------------------------------------------------------------------------------------


def format_seconds(seconds: float | None) -> str:
    """`75.2` -> `1m15s`; None -> `…` (not known yet)."""
    if seconds is None:
        return "…"
    whole = round(seconds)
    return f"{whole // 60}m{whole % 60:02d}s" if whole >= 60 else f"{whole}s"


def outcome_text(item: BatchItem) -> str:
    """A short description of a finished item's result, or the running item's latest progress line."""
    result = item.result
    if item.state == "cancelled":
        return "cancelled: no result written"
    if result is None:
        return item.message.removeprefix(f"{item.name}: ")
    if result.status != "graded":
        return f"not graded: {result.error}"
    overall = "n/a" if result.overall is None else f"{result.overall:g}/100"
    passed, run = result.hidden_totals()
    reused = " (unchanged: result reused)" if item.state == "reused" else ""
    if result.did_not_run:
        return f"✗ did not run ({overall}): {(result.app.problem if result.app else None) or 'no reason recorded'}"
    return f"{overall}, hidden tests {passed}/{run}{reused}"


def summary_line(batch: Batch) -> str:
    """Counts, elapsed time and ETA in one line."""
    with batch.lock:
        finished = batch.count("done", "reused", "error", "cancelled")
        line = (
            f"{finished}/{len(batch.items)} finished · {batch.count('error')} error(s) · "
            f"{len(batch.items) - finished - batch.count('queued')} running · {batch.count('queued')} queued · "
            f"{batch.jobs} at a time · elapsed {format_seconds(time.monotonic() - batch.started)}"
        )
        remaining = len(batch.items) - finished
        eta = batch.eta() if remaining else 0.0
    return f"{line} · ETA {format_seconds(eta)}" if remaining else line


class PlainDisplay:
    """Plain lines (CI logs, pipes): the pipeline's progress lines and one line per finished grading."""

    def __init__(self, emit: Callable[[str], None]) -> None:
        self.emit = emit
        self.batch: Batch | None = None

    def start(self, batch: Batch) -> None:
        """Announce the batch."""
        self.batch = batch
        self.emit(f"grading {len(batch.items)} submission(s), {batch.jobs} at a time")

    def changed(self, item: BatchItem) -> None:
        """A finished grading: one line with the counts and the ETA."""
        if self.batch is not None and item.state in ("done", "reused", "error"):
            self.emit(f"{item.name}: {item.state} in {item.elapsed:.1f} s · {summary_line(self.batch)}")

    def log(self, item: BatchItem | None, message: str) -> None:
        """Pass progress lines through."""
        self.emit(message)

    def stop(self) -> None:
        """Nothing to tear down."""


STATE_STYLES = {"done": "green", "reused": "green", "error": "red", "cancelled": "yellow", "queued": "dim"}


class LiveDisplay:
    """A live table on a terminal: one row per submission with its state, time and latest news."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.batch: Batch | None = None
        self.news = ""
        self._live: Live | None = None

    def start(self, batch: Batch) -> None:
        """Start redrawing (4 times a second, from rich's own thread)."""
        from rich.live import Live

        self.batch = batch
        self._live = Live(self, console=self.console, refresh_per_second=4, transient=False)
        self._live.start()

    def changed(self, item: BatchItem) -> None:
        """Nothing to do: the next refresh shows it."""

    def log(self, item: BatchItem | None, message: str) -> None:
        """Keep the latest line per submission (shown in its row) or from the sandbox (shown below)."""
        if item is None:
            self.news = message
        else:
            item.message = message

    def stop(self) -> None:
        """Draw the final table and stop redrawing."""
        if self._live is not None:
            self._live.stop()
            self._live = None

    def __rich__(self) -> RenderableType:
        from rich.table import Table

        assert self.batch is not None
        table = Table(title=summary_line(self.batch), title_justify="left", expand=True, show_edge=False)
        table.add_column("#", justify="right", style="dim", no_wrap=True)
        table.add_column("submission", no_wrap=True, max_width=32)
        table.add_column("state", no_wrap=True)
        table.add_column("time", justify="right", no_wrap=True)
        table.add_column("result / latest", overflow="ellipsis", no_wrap=True, ratio=1)
        rows = self._visible_rows()
        with self.batch.lock:
            for item in rows:
                style = STATE_STYLES.get(item.state, "cyan")
                elapsed = f"{item.elapsed:.0f}s" if item.started is not None else ""
                table.add_row(str(item.index + 1), escape(item.name), f"[{style}]{escape(item.label)}[/]", elapsed,
                              escape(outcome_text(item)))
        hidden = len(self.batch.items) - len(rows)
        if hidden > 0:
            table.caption = f"… {hidden} more not shown"
        if self.news:
            table.caption = f"{table.caption or ''}  {escape(self.news)[:200]}".strip()
        return table

    def _visible_rows(self) -> list[BatchItem]:
        """All rows when they fit; otherwise the running ones, then the latest finished, then the queued."""
        assert self.batch is not None
        room = max(5, self.console.size.height - 8)
        items = self.batch.items
        if len(items) <= room:
            return items
        running = [i for i in items if i.started is not None and i.finished is None]
        finished = sorted((i for i in items if i.finished is not None), key=lambda i: i.finished or 0.0, reverse=True)
        queued = [i for i in items if i.started is None]
        shown = (running + finished + queued)[:room]
        return sorted(shown, key=lambda i: i.index)


def make_display(console: Console, emit: Callable[[str], None]) -> Display:
    """A live table when the console is an interactive terminal, plain lines otherwise (CI)."""
    if console.is_terminal and not console.is_dumb_terminal:
        return LiveDisplay(console)
    return PlainDisplay(emit)
