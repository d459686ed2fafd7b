"""The small interface every check shares.

A check declares its id, the scorecard categories it feeds, the command it runs in the sandbox's
grader-controlled runner, and how it turns that command's output into results. Checks never talk to
Docker (or to any backend) themselves: the host runs the command and hands back the output.
The `parse` half runs on the host and may use the grader's models; the command half runs in the runner.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from grader.models import CheckResult


@dataclass(frozen=True)
class CheckContext:
    """Paths and addresses as the runner sees them."""

    tests_dir: str
    output_dir: str
    app_url: str


@dataclass(frozen=True)
class CheckOutput:
    """What the host collected after running a check's command."""

    output_dir: Path
    exit_code: int | None
    log: str


class Check(Protocol):
    """One check: an id, the categories it feeds, a command and a parser."""

    id: str
    categories: tuple[str, ...]

    def command(self, context: CheckContext) -> list[str]:
        """argv to run in the runner."""
        ...

    def parse(self, output: CheckOutput) -> list[CheckResult]:
        """Results (one per category fed) from the command's output."""
        ...
