"""The small interface every check shares.

A check declares its id, the scorecard categories it feeds, where it runs, the command it runs there,
and (in its own module, run in the sandbox) how it turns its tool's output into metrics and findings.
Checks never talk to Docker or to any backend: the host runs the command and reads what it wrote.

Two kinds of checks:
- the hidden-test check (`checks.hidden_tests`) runs the challenge suite against the app over HTTP;
- static checks (`typecheck`, `lint`, `complexity`, `practices`, `candidate_tests`) run a module
  `python -m checks.<id> --submission DIR --out DIR` that writes `<out>/<id>.json`:
  `{"id": ..., "metrics": {name: number}, "findings": [{message, file, line, rule, category, severity}],
  "tools": {name: version}}` and exits 0 when the tool ran (whatever it found), non-zero when it could not.

This module is imported inside the sandbox, so it uses the standard library only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol, TypedDict

if TYPE_CHECKING:
    from grader.models import CheckResult

CATEGORY_IDS = (
    "python_fundamentals",
    "api_design",
    "databases",
    "testing",
    "infrastructure",
    "observability",
)
MAX_FINDINGS = 200  # per check: enough to explain a score, bounded against hostile input


@dataclass(frozen=True)
class CheckContext:
    """Paths and addresses as the runner sees them (hidden-test check)."""

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
    """The hidden-test check: an id, the categories it feeds, a command and a parser."""

    id: str
    categories: tuple[str, ...]

    def command(self, context: CheckContext) -> list[str]:
        """argv to run in the runner."""
        ...

    def parse(self, output: CheckOutput) -> list[CheckResult]:
        """Results (one per category fed) from the command's output."""
        ...


@dataclass(frozen=True)
class ToolContext:
    """Where a static check finds the submission and writes its report, as the sandbox sees them."""

    submission_dir: str
    output_dir: str
    python: str = "python"


class StaticCheck(Protocol):
    """A static check: runs in the grader's tool environment or in the candidate's own environment."""

    id: str
    categories: tuple[str, ...]
    environment: Literal["tools", "candidate"]
    timeout_s: float

    def command(self, context: ToolContext) -> list[str]:
        """argv that runs the check's module and writes `<output_dir>/<id>.json`."""
        ...


class FindingDict(TypedDict, total=False):
    message: str
    file: str | None
    line: int | None
    rule: str | None
    category: str | None
    severity: str


def module_command(check_id: str, context: ToolContext) -> list[str]:
    """The standard command of a static check: `python -m checks.<id> --submission S --out O`."""
    return [context.python, "-m", f"checks.{check_id}", "--submission", context.submission_dir,
            "--out", context.output_dir]


def write_report(
    out_dir: Path, check_id: str, metrics: dict[str, float], findings: list[FindingDict],
    tools: dict[str, str] | None = None,
) -> Path:
    """Write a static check's report atomically (called inside the sandbox)."""
    payload = {
        "id": check_id,
        "metrics": {name: round(float(value), 4) for name, value in sorted(metrics.items())},
        "findings": findings[:MAX_FINDINGS],
        "findings_total": len(findings),
        "tools": tools or {},
    }
    target = out_dir / f"{check_id}.json"
    tmp = target.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, indent=1))
    tmp.replace(target)
    return target
