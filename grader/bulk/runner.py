"""Running a batch: its items and their states, how many gradings run at once, the runner that grades one
item and records a crash as an error result, and the worker threads that stop cleanly on Ctrl-C.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, Protocol

from grader import __version__, cache
from grader.bulk.survey import batch_names
from grader.challenge import challenge_content_hash
from grader.hooks import GradingCancelled, GradingHooks, Stage
from grader.models import Challenge, GradeResult
from grader.outdir import OutputError, as_output_error
from grader.pipeline import GradingOptions, grade_submission
from grader.results import result_dir, write_result
from grader.sandbox.base import Sandbox

GIB = 1024**3
GIB_PER_JOB = 2  # a grading's containers peak well under 1 GiB besides the app; leave room for the app
ABORT_GRACE_S = 20.0  # after Ctrl-C, how long running gradings get to notice their sandboxes are gone

State = Literal["queued", "intake", "environment", "static checks", "tests", "app", "done", "reused", "error",
                "cancelled"]
STAGE_ORDER: tuple[Stage, ...] = ("intake", "environment", "static checks", "tests", "app")


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
class CacheLimit:
    """A configured cache size kept during a batch: the cache is fitted to it (least recently used entries
    removed, on disk and images) after every `every` finished gradings, at most once per `interval_s` (a fit
    reads the size of every entry: 1-3 s on a large cache, spent in the grading thread that does it), and
    once the batch ends."""

    max_bytes: int
    images: cache.ImageCache | None
    every: int = 5
    interval_s: float = 60.0
    finished: int = 0
    last_fit: float | None = None  # time.monotonic() of the last fit
    removed: int = 0
    freed: int = 0
    _count_lock: threading.Lock = field(default_factory=threading.Lock)
    _fit_lock: threading.Lock = field(default_factory=threading.Lock)

    def after_grading(self, log: Callable[[str], None], in_flight_since: float | None = None) -> None:
        """Count a finished grading; fit the cache when it is the `every`-th. `in_flight_since`: when the oldest
        grading still running started (epoch seconds; None: the caller does not know)."""
        with self._count_lock:
            self.finished += 1
            recent = self.last_fit is not None and time.monotonic() - self.last_fit < self.interval_s
            due = self.finished % self.every == 0 and not recent
        if due:
            self.fit(log, in_flight_since, spare=cache.UNLOCKED_WHILE_GRADING)

    def fit(self, log: Callable[[str], None], keep_used_after: float | None = None,
            spare: tuple[str, ...] = (), wait: bool = False) -> None:
        """Fit the cache now, unless another thread is doing it (`wait`: after it); say what went. Nothing used
        after `keep_used_after` goes (None: the last ten minutes), nor the groups in `spare`."""
        if not self._fit_lock.acquire(blocking=wait):
            return
        self.last_fit = time.monotonic()
        try:
            report = cache.fit(self.max_bytes, self.images, keep_used_after, spare)
        except Exception as exc:  # the engine or the disk: the gradings go on, the cache stays as it is
            log(f"cache: could not keep it within {cache.human_size(self.max_bytes)}: {exc}")
            return
        finally:
            self._fit_lock.release()
        if report.removed:
            self.removed += len(report.removed)
            self.freed += report.freed
            log(f"cache: removed {len(report.removed)} least recently used entr"
                f"{'y' if len(report.removed) == 1 else 'ies'} ({cache.human_size(report.freed)}) to stay within "
                f"{cache.human_size(self.max_bytes)}")


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
    cache_limit: CacheLimit | None = None

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
        if self.cache_limit is not None and final != "cancelled":
            self.cache_limit.after_grading(lambda message: self.display.log(None, message), _in_flight_since(batch))

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


def _in_flight_since(batch: Batch) -> float:
    """When the oldest grading still running started (epoch seconds), or now when none runs: what a running
    grading uses it has marked used since it started (its snapshot, wheel set, images, mypy seed)."""
    now_monotonic, now = time.monotonic(), time.time()
    with batch.lock:
        starts = [item.started for item in batch.items
                  if item.started is not None and item.state not in ("done", "reused", "error", "cancelled")]
    return now - (now_monotonic - min(starts)) if starts else now


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
        if runner.cache_limit is not None and not batch.interrupted:  # nothing runs: what the batch used may go
            runner.cache_limit.fit(lambda message: runner.display.log(None, message), keep_used_after=time.time(),
                                   wait=True)
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
