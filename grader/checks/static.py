"""Static checks on the host: their spec, the plan the sandbox runs, and reading what they wrote.

A static check is a module `checks/<id>.py` run as `python -m checks.<id> --submission S --out O` in the
grader's tool environment or in the candidate's own. The host builds the plan (`checks.run_plan` runs it),
hands it to the backend, and validates the JSON that comes back. The candidate-environment check's output is
written by code the candidate controls, so every report is validated and bounded like any untrusted input.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from checks.formats import CATEGORY_IDS, MAX_FINDINGS, PlanEntry, report_file, run_record_file
from grader.checks.spec import CheckContext, CheckOutput
from grader.models import CheckRun, Finding

PLAN_NAME = "plan.json"
MAX_REPORT_BYTES = 5_000_000
PLAN_SLACK_S = 30  # start-up of the plan's interpreter, beyond the checks' own time limits

Where = Literal["tools", "candidate"]


@dataclass(frozen=True)
class StaticCheckSpec:
    """A static check: reads the snapshot, writes `<id>.json` with the metrics it declares."""

    id: str
    runs_in: Where
    timeout_s: float
    metrics: tuple[str, ...]

    @property
    def entry_module(self) -> str:
        """`checks.<id>`: the module the sandbox runs."""
        return f"checks.{self.id}"

    def command(self, context: CheckContext) -> list[str]:
        """`python -m checks.<id> --submission S --out O`."""
        return [context.python, "-m", self.entry_module, "--submission", context.input_dir,
                "--out", context.output_dir]

    def parse(self, output: CheckOutput) -> CheckRun:
        """Its metrics and findings, or why it could not run, from `<id>.run.json` and `<id>.json` in
        `output.output_dir` (its exit code and stderr are in the run record: the plan runs several checks)."""
        return read_check_run(self.id, output.output_dir)


@dataclass(frozen=True)
class PlannedCheck:
    """One check of a plan: its command (paths as the sandbox sees them) and its timeout."""

    id: str
    argv: tuple[str, ...]
    timeout_s: float

    @property
    def files(self) -> tuple[str, str]:
        """What it may leave in the output dir: its report and the plan runner's record of it."""
        return report_file(self.id), run_record_file(self.id)


def plan_checks(checks: Sequence[StaticCheckSpec], context: CheckContext) -> tuple[PlannedCheck, ...]:
    """Each check's command in `context`, with its timeout: what `checks.run_plan` executes."""
    return tuple(PlannedCheck(c.id, tuple(c.command(context)), c.timeout_s) for c in checks)


def plan_command(context: CheckContext) -> list[str]:
    """`python -m checks.run_plan <output dir>/plan.json`: runs a plan written into the output dir."""
    return [context.python, "-m", "checks.run_plan", f"{context.output_dir}/{PLAN_NAME}"]


def write_plan(plan: Sequence[PlannedCheck], out_dir: Path) -> Path:
    """Write `plan` as `out_dir/plan.json` (`checks.formats.PlanEntry` records)."""
    entries: list[PlanEntry] = [{"id": c.id, "argv": list(c.argv), "timeout_s": c.timeout_s} for c in plan]
    path = out_dir / PLAN_NAME
    path.write_text(json.dumps(entries, indent=1))
    return path


def plan_timeout(plan: Sequence[PlannedCheck]) -> float:
    """Wall time for a whole plan: the sum of its checks' timeouts plus start-up slack."""
    return sum(c.timeout_s for c in plan) + PLAN_SLACK_S


def read_check_runs(checks: Sequence[StaticCheckSpec], out_dir: Path) -> list[CheckRun]:
    """One CheckRun per check: its metrics and findings, or why it could not run."""
    return [check.parse(CheckOutput(out_dir, exit_code=None, log="")) for check in checks]


def read_check_run(check_id: str, out_dir: Path) -> CheckRun:
    """Validate `<id>.run.json` and `<id>.json`; anything missing or malformed means "could not run"."""
    run = _read_json(out_dir / run_record_file(check_id))
    if run is None:
        return _error(check_id, "the check never ran (the sandbox stopped before it)", 0.0)
    duration = _number(run.get("duration_s")) or 0.0
    if run.get("timed_out"):
        return _error(check_id, f"timed out after {duration:g} s", duration)
    if run.get("exit_code") != 0:
        reason = str(run.get("stderr_tail") or "").strip().splitlines()
        return _error(check_id, f"exit code {run.get('exit_code')}: {reason[-1] if reason else 'no message'}",
                      duration)
    report = _read_json(out_dir / report_file(check_id))
    if report is None:
        return _error(check_id, "the check wrote no readable report", duration)
    return CheckRun(
        id=check_id, status="ok", duration_s=duration,
        metrics=_metrics(report.get("metrics")), findings=_findings(report.get("findings")),
    )


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        if path.stat().st_size > MAX_REPORT_BYTES:
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _metrics(raw: Any) -> dict[str, float]:
    if not isinstance(raw, dict):
        return {}
    metrics = {str(k)[:80]: _number(v) for k, v in list(raw.items())[:200]}
    return {k: v for k, v in sorted(metrics.items()) if v is not None}


def _findings(raw: Any) -> list[Finding]:
    if not isinstance(raw, list):
        return []
    findings = []
    for item in raw[:MAX_FINDINGS]:
        try:
            finding = Finding.model_validate(item)
        except ValidationError:
            continue
        if finding.category in CATEGORY_IDS:
            findings.append(finding.model_copy(update={"message": finding.message[:500]}))
    return findings


def _error(check_id: str, reason: str, duration: float) -> CheckRun:
    return CheckRun(id=check_id, status="error", error=reason, duration_s=duration)
