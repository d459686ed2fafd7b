"""One secret is deducted once, at full weight; development credentials and comparisons cost nothing.

The check runs are real (checks.practices with detect-secrets, checks.lint with ruff) on the fixtures in
tests/fixtures/practices/, scored by the host's rules as a grading scores them.
"""

from __future__ import annotations

from pathlib import Path

from grader.models import CheckResult, CheckRun, Finding
from grader.rules import DEFAULT_RULES
from grader.scoring import score_check_runs
from tests.unit.checks.test_common import REPO_ROOT, run_check

SUBMISSIONS = REPO_ROOT / "tests" / "fixtures" / "practices"


def real_run(check_id: str, submission: Path, out: Path) -> CheckRun:
    """The check run for real on `submission`, as the host reads it back."""
    run = run_check(check_id, submission, out)
    assert run.returncode == 0, run.stderr
    return CheckRun(id=check_id, status="ok", metrics=run.metrics,
                    findings=[Finding.model_validate(item) for item in run.findings])


def result(results: list[CheckResult], result_id: str) -> CheckResult:
    """The scored result with this id (`practices/databases`)."""
    return next(item for item in results if item.id == result_id)


def deducted(results: list[CheckResult]) -> dict[str, float]:
    """Points lost per scoring rule."""
    return {d.rule: d.points for item in results for d in item.deductions}


def test_a_hard_coded_key_seen_by_lint_and_practices_is_deducted_once_at_full_weight(tmp_path: Path) -> None:
    submission = SUBMISSIONS / "hardcoded-key"
    runs = [real_run("lint", submission, tmp_path / "lint"), real_run("practices", submission, tmp_path / "p")]
    assert ("app.py", 6, "S105") in {(f.file, f.line, f.rule) for f in runs[0].findings}
    assert ("app.py", 6, "secret") in {(f.file, f.line, f.rule) for f in runs[1].findings}
    results = score_check_runs(runs, DEFAULT_RULES)
    lost = deducted(results)
    assert lost["practices.secrets_found"] == 20  # the full rule, once (db.py's URL is a second secret)
    assert "lint.infrastructure_findings" not in lost
    lint = result(results, "lint/infrastructure")
    assert lint.metrics["infrastructure_findings"] == 0 and lint.score == lint.max_score == 15
    [s105] = [f for f in lint.findings if f.rule == "S105"]
    assert s105.severity == "info" and "counted once, under practices.secrets_found" in s105.message


def test_lint_counts_a_secret_the_practices_check_could_not_look_for(tmp_path: Path) -> None:
    lint = real_run("lint", SUBMISSIONS / "hardcoded-key", tmp_path)
    practices = CheckRun(id="practices", status="error", error="timed out after 120 s")
    assert deducted(score_check_runs([lint, practices], DEFAULT_RULES))["lint.infrastructure_findings"] == 5


def test_development_credentials_cost_nothing(tmp_path: Path) -> None:
    run = real_run("practices", SUBMISSIONS / "dev-credentials", tmp_path)
    results = score_check_runs([run], DEFAULT_RULES)
    assert "practices.secrets_found" not in deducted(results)
    infrastructure = result(results, "practices/infrastructure")
    credentials = [f for f in infrastructure.findings if f.rule == "dev-credential"]
    assert len(credentials) == 8 and {f.severity for f in credentials} == {"info"}


def test_a_string_literal_comparison_costs_nothing(tmp_path: Path) -> None:
    submission = SUBMISSIONS / "literal-comparison"
    runs = [real_run("lint", submission, tmp_path / "lint"), real_run("practices", submission, tmp_path / "p")]
    lost = deducted(score_check_runs(runs, DEFAULT_RULES))
    assert not {"practices.secrets_found", "lint.infrastructure_findings"} & set(lost), lost
