"""Hand-built results for report tests: every section of a report filled, with hostile text where it can be."""

from __future__ import annotations

from grader.models import (
    DEFAULT_WEIGHTS,
    AppRun,
    CategoryScore,
    CheckResult,
    CheckStatus,
    Deduction,
    Finding,
    GradeResult,
    Limits,
    ReviewNotes,
    SandboxInfo,
    Severity,
    SubmissionInfo,
    TestCase,
    Timings,
)

HOSTILE = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'


def hidden_check(category: str, tests: list[TestCase]) -> CheckResult:
    """A hidden-test check scored one point per passed test, as the hidden-test check does."""
    run = [t for t in tests if t.outcome != "skipped"]
    passed = sum(t.outcome == "passed" for t in run)
    return CheckResult(
        id=f"hidden-tests/{category}", category=category,
        status=CheckStatus.PASSED if passed == len(run) else CheckStatus.FAILED,
        score=passed, max_score=len(run), summary=f"{passed}/{len(run)} hidden tests passed", tests=tests,
    )


def test_case(name: str, category: str, outcome: str = "passed", message: str | None = None) -> TestCase:
    return TestCase(name=name, nodeid=f"test_hidden.py::{name}", category=category,
                    outcome=outcome, duration_s=0.012, message=message)  # type: ignore[arg-type]


def static_checks(hostile: str = "") -> list[CheckResult]:
    """typecheck, complexity and the candidate's own tests, with findings, metrics and deductions."""
    bad_file = f"app/{hostile}main.py" if hostile else "app/main.py"
    type_finding = Finding(message=f"Argument 1 has incompatible type {hostile}", file=bad_file, line=42,
                           severity=Severity.ERROR, rule="arg-type", category="python_fundamentals")
    complex_finding = Finding(message="create_note has cyclomatic complexity 14 (grade C)\n 40 | def create_note():",
                              file="app/routes.py", line=40, severity=Severity.WARNING, rule="C901")
    typecheck = CheckResult(
        id="typecheck", category="python_fundamentals", status=CheckStatus.FAILED, score=6.5, max_score=10,
        summary="12 mypy errors in 300 lines", metrics={"errors_per_100_lines": 4.0, "annotation_share": 55.0},
        findings=[type_finding],
        deductions=[Deduction(rule="typecheck.errors_per_100_lines", category="python_fundamentals", points=3.5,
                              reason=f"mypy --strict reports 4 errors per 100 lines {hostile}",
                              metric="errors_per_100_lines", value=4.0, good=0.0, bad=10.0, evidence=[type_finding])],
    )
    complexity = CheckResult(
        id="complexity", category="python_fundamentals", status=CheckStatus.PASSED, score=8, max_score=8,
        summary="average cyclomatic complexity 3.1", metrics={"average_cc": 3.1}, findings=[complex_finding],
    )
    candidate_tests = CheckResult(
        id="candidate_tests", category="testing", status=CheckStatus.FAILED, score=7, max_score=10,
        summary="9 of 10 of the candidate's tests passed; 72% coverage",
        metrics={"tests_found": 10, "pass_rate": 90.0, "coverage_percent": 72.0},
        deductions=[Deduction(rule="candidate_tests.pass_rate", category="testing", points=3,
                              reason="one own test fails",
                              evidence=[Finding(message="test_delete failed", file="tests/test_api.py", line=12)])],
    )
    return [typecheck, complexity, candidate_tests]


HIDDEN_NAMES = (
    "test_create_returns_201_with_note",
    "test_get_unknown_note_returns_404_with_json_error",
    "test_list_is_ordered_by_id_ascending",
    "test_health_returns_ok_json",
)


def hidden_checks(hostile: str = "") -> list[CheckResult]:
    failed_message = f"AssertionError: POST /notes answered 200, expected 201 {hostile}"
    return [
        hidden_check("api_design", [
            test_case(HIDDEN_NAMES[0], "api_design", "failed", failed_message),
            test_case(HIDDEN_NAMES[1], "api_design"),
        ]),
        hidden_check("databases", [test_case(HIDDEN_NAMES[2], "databases")]),
        hidden_check("observability", [test_case(HIDDEN_NAMES[3], "observability", "skipped", "no /metrics")]),
    ]


def categories_for(checks: list[CheckResult]) -> tuple[list[CategoryScore], float, float]:
    """Category scores as the scorecard rules give them (points earned over points possible)."""
    categories, weighted, evaluated = [], 0.0, 0.0
    for category, weight in DEFAULT_WEIGHTS.items():
        feeding = [c for c in checks if c.category == category and c.max_score > 0]
        if not feeding:
            categories.append(CategoryScore(id=category, weight=weight, score=None, evaluated=False,
                                            checks=[c.id for c in checks if c.category == category],
                                            note="no check measured this category"))
            continue
        score = round(100 * sum(c.score for c in feeding) / sum(c.max_score for c in feeding), 1)
        categories.append(CategoryScore(id=category, weight=weight, score=score, evaluated=True,
                                        checks=[c.id for c in feeding]))
        weighted += weight * score
        evaluated += weight
    return categories, round(weighted / evaluated, 1), evaluated


def graded_result(name: str = "alice", *, hostile: str = "", local: bool = False, started: bool = True) -> GradeResult:
    """A graded result with every section a report can show."""
    checks = [*hidden_checks(hostile), *static_checks(hostile)]
    categories, overall, evaluated = categories_for(checks)
    return GradeResult(
        grader_version="0.1.0", graded_at="2026-01-02T03:04:05+00:00", status="graded",
        challenge={"id": "hello-api", "title": "Hello API", "content_hash": "sha256:abc"},
        submission=SubmissionInfo(
            name=name, source=f"/submissions/{name}", source_kind="directory", content_hash="sha256:feedbeef",
            file_count=12, framework="fastapi", start_command="uvicorn main:app", start_command_source="detected",
            requirements=["fastapi==0.115.0"],
            findings=[Finding(message=f"requirements are not pinned {hostile}", file="requirements.txt", line=1)],
        ),
        sandbox=SandboxInfo(backend="local" if local else "docker", isolated=not local, image="grader-env:abc",
                            image_id="sha256:1234", base_image="grader-base:3.11", environment_hash="abc123",
                            limits=Limits(), warnings=["local backend"] if local else []),  # type: ignore[call-arg]
        app=AppRun(started=started, start_seconds=0.5 if started else None, exit_code=None if started else 3,
                   log_tail=f"Traceback (most recent call last):\nboom {hostile}\n",
                   problem=None if started else "did not start: exited with code 3 before answering /health"),
        checks=checks, categories=categories, overall=overall, evaluated_weight=evaluated,
        review=ReviewNotes(
            strengths=["Clear pydantic models for every request body."],
            concerns=[f"Four mypy errors per 100 lines {hostile}"],
            questions=["How would you make POST /notes answer 201?", "Which of your tests would you write first?"],
        ),
        timings=Timings(intake_s=0.2, environment_s=3.5, app_start_s=0.5, tests_s=2.0, total_s=6.4),
    )


def error_result(reason: str = "No Python file was found in the submission") -> GradeResult:
    """A result the grader could not grade."""
    return GradeResult(
        grader_version="0.1.0", graded_at="2026-01-02T03:04:05+00:00", status="error", error=reason,
        challenge={"id": "hello-api", "title": "Hello API", "content_hash": "sha256:abc"},
        submission=None, sandbox=None, overall=None, evaluated_weight=0,
    )
