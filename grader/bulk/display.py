"""Showing a batch's progress: a live table on a terminal, plain lines otherwise (and with -v or -q)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from rich.markup import escape

from grader.bulk.runner import Batch, BatchItem, Display

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.live import Live


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
