"""Reading static-check output: could-not-run is told apart from findings, and hostile JSON is bounded."""

from __future__ import annotations

import json
from pathlib import Path

from grader.checks.registry import STATIC_CHECKS
from grader.checks.spec import CheckContext
from grader.checks.static import plan_checks, plan_command, read_check_run, write_plan


def write(out: Path, check_id: str, run: dict[str, object], report: object | None = None) -> None:
    (out / f"{check_id}.run.json").write_text(json.dumps(run))
    if report is not None:
        (out / f"{check_id}.json").write_text(json.dumps(report))


def test_tool_that_ran_gives_metrics_and_findings(tmp_path: Path) -> None:
    write(tmp_path, "lint", {"exit_code": 0, "timed_out": False, "duration_s": 0.4},
          {"metrics": {"findings_total": 2}, "findings": [
              {"message": "`print` found", "file": "app.py", "line": 3, "rule": "T201", "category": "observability"}]})
    run = read_check_run("lint", tmp_path)
    assert run.status == "ok" and run.metrics == {"findings_total": 2.0} and run.duration_s == 0.4
    assert run.findings[0].file == "app.py" and run.findings[0].line == 3


def test_timeout_crash_and_missing_report_are_could_not_run(tmp_path: Path) -> None:
    write(tmp_path, "typecheck", {"exit_code": -9, "timed_out": True, "duration_s": 120})
    write(tmp_path, "lint", {"exit_code": 2, "timed_out": False, "duration_s": 0.1,
                             "stderr_tail": "Traceback...\nchecks.lint: ruff is not installed"})
    write(tmp_path, "complexity", {"exit_code": 0, "timed_out": False, "duration_s": 0.1})
    assert read_check_run("typecheck", tmp_path).error == "timed out after 120 s"
    assert read_check_run("lint", tmp_path).error == "exit code 2: checks.lint: ruff is not installed"
    assert read_check_run("complexity", tmp_path).error == "the check wrote no readable report"
    assert read_check_run("practices", tmp_path).status == "error"


def test_hostile_report_is_bounded(tmp_path: Path) -> None:
    findings = [{"message": "x" * 5000, "category": "testing"}, {"message": "bad", "category": "not-a-category"},
                {"category": "testing"}, "not a dict"]
    write(tmp_path, "candidate_tests", {"exit_code": 0, "timed_out": False, "duration_s": 1},
          {"metrics": {"coverage_percent": "100", "tests_found": True, "tests_passed": 3}, "findings": findings})
    run = read_check_run("candidate_tests", tmp_path)
    assert run.metrics == {"tests_passed": 3.0}
    assert len(run.findings) == 1 and len(run.findings[0].message) == 500


def test_plan_runs_every_static_check_module(tmp_path: Path) -> None:
    checks = list(STATIC_CHECKS.values())
    context = CheckContext("/submission", "/out")
    plan = json.loads(write_plan(plan_checks(checks, context), tmp_path).read_text())
    assert [entry["argv"][:3] for entry in plan] == [["python", "-m", f"checks.{c}"] for c in STATIC_CHECKS]
    assert all(entry["timeout_s"] > 0 for entry in plan)
    assert plan_command(context) == ["python", "-m", "checks.run_plan", "/out/plan.json"]
