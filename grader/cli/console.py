"""How the command line talks: the two consoles, exit codes, one-line errors (`fail`, `friendly_errors`),
progress lines, the --debug, -v and -q flags every command takes, and the one line per graded submission.

`settings` is replaced on every invocation: read it as `console.settings`, never import the name.
"""

from __future__ import annotations

import functools
import logging
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click
from rich.console import Console

from grader.app_log import not_ready_sentence
from grader.challenge import ChallengeError
from grader.models import GradeResult
from grader.outdir import OutputError, as_output_error
from grader.results import result_path
from grader.sandbox.base import SandboxError

EXIT_SOME_ERRORED = 1
EXIT_USAGE = 2
EXIT_CANNOT_RUN = 3

err = Console(stderr=True, highlight=False)
out = Console(highlight=False)
F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str, code: int = EXIT_CANNOT_RUN) -> NoReturn:
    """Print one clear line and exit with `code` (`message` is plain text: brackets are shown as they are)."""
    err.print(f"[bold red]error:[/] {escape(message)}", markup=True, soft_wrap=True)
    sys.exit(code)


def stop_on_sigterm() -> None:
    """Treat SIGTERM (a cancelled CI job, `kill`, `timeout`) like Ctrl-C: the running sandboxes, their
    service containers included, are removed and finished results kept, instead of being left behind."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def friendly_errors(command: F) -> F:
    """Known problems become one line; unexpected ones too, unless --debug asks for the traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        stop_on_sigterm()
        try:
            return command(*args, **kwargs)
        except (ChallengeError, SandboxError) as exc:
            if settings.debug:
                raise
            fail(str(exc))
        except OutputError as exc:
            fail(escape(str(exc)), EXIT_USAGE)
        except KeyboardInterrupt:
            fail("interrupted: running sandboxes were removed, finished results are kept", 130)
        except Exception as exc:
            if settings.debug:
                raise
            out_dir = click.get_current_context().params.get("out_dir")
            # a full or read-only disk is no bug: say so in one sentence
            disk = as_output_error(exc, *([out_dir] if isinstance(out_dir, Path) else []))
            if disk is not None:
                fail(escape(str(disk)), EXIT_USAGE)
            fail(escape(f"internal error: {type(exc).__name__}: {exc} (rerun with --debug for the traceback)"))

    return wrapper  # type: ignore[return-value]


# --- --debug, -v and -q: accepted before the subcommand and on every one ----------------------------------


@dataclass
class OutputSettings:
    """This invocation's --debug, -v and -q (worker threads read them too, so they live at module level)."""

    debug: bool = False
    verbose: bool = False
    quiet: bool = False


settings = OutputSettings()
DETAIL_LOGGER = "grader"  # -v shows what the pipeline logs at DEBUG level under this logger


def _set_output_flag(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    """Record a flag given before or after the subcommand; every invocation starts from scratch."""
    global settings
    root = ctx.find_root()
    settings = root.meta.setdefault("grader.output", OutputSettings())
    if value and param.name:
        setattr(settings, param.name, True)
    if settings.verbose and settings.quiet:
        raise click.UsageError("use either -v (more lines) or -q (fewer), not both", ctx)
    if settings.verbose and not root.meta.get("grader.detail-lines"):
        root.meta["grader.detail-lines"] = True
        root.call_on_close(_show_detail_lines())


def _show_detail_lines() -> Callable[[], None]:
    """Print the pipeline's DEBUG lines (image build output, commands, timings); returns the undo."""
    logger = logging.getLogger(DETAIL_LOGGER)
    handler = _DetailHandler()
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)

    def undo() -> None:
        logger.removeHandler(handler)
        logger.setLevel(previous)

    return undo


class _DetailHandler(logging.Handler):
    """-v: a detail line, dimmed and indented under the progress lines."""

    def emit(self, record: logging.LogRecord) -> None:
        from rich.text import Text

        err.print(Text(f"  {record.getMessage()}", style="dim"), soft_wrap=True)


OUTPUT_OPTIONS = (
    ("--debug", None, "Show tracebacks instead of one-line errors."),
    ("--verbose", "-v", "Show every progress line (no live table) and more of them: image build output, "
                        "commands run, stage timings."),
    ("--quiet", "-q", "Show only the result lines, warnings and errors."),
)


def add_output_options(command: click.Command) -> None:
    """Give `command` and every subcommand under it --debug, -v and -q (fresh option objects each)."""
    for flag, short, help_text in OUTPUT_OPTIONS:
        command.params.append(click.Option([flag, *([short] if short else [])], is_flag=True, expose_value=False,
                                           callback=_set_output_flag, help=help_text))
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            add_output_options(sub)


def progress(message: str) -> None:
    """A progress line on stderr (none with -q); `message` is plain text (a hint like `[tool.grader]` stays
    intact)."""
    if not settings.quiet:
        err.print(f"[dim]·[/] {escape(message)}", markup=True, soft_wrap=True)


class SpinnerProgress:
    """`grader check`'s progress: one spinner line showing the latest step, so image builds ("Step 3/14 ...")
    never scroll past the candidate; with -v every line is printed as `progress` prints it, with -q none.

    Use as a context manager and call it with each message (it is a `Log`). Not on a terminal (a pipe, a
    file, a CI log), the spinner draws nothing.
    """

    def __init__(self, console: Console, first: str) -> None:
        self.console = console
        self.first = first
        self._status: Any = None

    def __enter__(self) -> SpinnerProgress:
        if not settings.verbose and not settings.quiet:
            self._status = self.console.status(escape(self.first), spinner="dots")
            self._status.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None

    def __call__(self, message: str) -> None:
        if settings.verbose:
            progress(message)
        elif self._status is not None:
            first_line = message.strip().splitlines()[0] if message.strip() else ""
            self._status.update(escape(first_line[:100]))


def print_summary(result: GradeResult, out_dir: Path, name: str | None = None) -> None:
    """One line per submission on stdout: what a script or a person needs first.

    ✓ graded with the app running, ✗ not graded or graded with an app that never became ready (the line
    says why, from the app's log; the next line gives the score and how it was counted).
    """
    name = name or (result.submission.name if result.submission else "?")
    where = escape(str(result_path(out_dir / name)))
    if result.status != "graded":
        out.print(f"[red]✗[/] {escape(name)}: not graded: {escape(result.error or '?')}  ({where})", markup=True,
                  soft_wrap=True)
        return
    passed, total = result.hidden_totals()
    overall = "n/a" if result.overall is None else f"{result.overall:g}/100"
    if result.did_not_run:
        problem = not_ready_sentence(result.app.problem if result.app else None)
        out.print(f"[red]✗[/] {escape(name)}: did not run: {escape(problem)}  ({where})", markup=True, soft_wrap=True)
        out.print(f"  overall {overall}, with the categories the hidden tests measure counted as 0 (the static "
                  f"checks measured {result.evaluated_weight:g}% of the scorecard); hidden tests {passed}/{total}",
                  markup=False, soft_wrap=True)
        return
    out.print(
        f"[green]✓[/] {escape(name)}: overall {overall} over {result.evaluated_weight:g}% of the scorecard; "
        f"hidden tests {passed:g}/{total:g}  ({where})",
        markup=True, soft_wrap=True,
    )


def escape(text: str) -> str:
    """Text made safe for Rich markup (paths and messages may hold square brackets)."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)
