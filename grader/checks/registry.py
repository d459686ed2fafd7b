"""Every check the grader runs, by id: the one list to extend when adding a check (docs/architecture.md).

Each static check's metrics are exactly those its sandbox module writes
(`tests/unit/grader/checks/test_check_registry.py` runs every module and compares), and every scoring rule
(`grader.rules`) names a metric declared here.
The order of STATIC_CHECKS is the order of their results in `result.json`.
"""

from __future__ import annotations

from grader.checks.spec import CheckSpec
from grader.checks.static import StaticCheckSpec, Where
from grader.checks.suite import SuiteCheckSpec

# Metrics of the code checks that say how much of the code parsed (`checks._common.parse_metrics`).
PARSE_METRICS = ("files_not_parsed", "lines_not_parsed", "parsed_share")

TYPECHECK = StaticCheckSpec(
    id="typecheck", runs_in="tools", timeout_s=180.0,
    metrics=("errors", "errors_per_100_lines", "annotation_share", "annotated_functions_share",
             "annotated_parameters_share", "functions", "files", "lines", "suppressions", *PARSE_METRICS),
)
LINT = StaticCheckSpec(
    id="lint", runs_in="tools", timeout_s=90.0,
    metrics=("lines", "findings_total", "python_fundamentals_findings", "python_fundamentals_per_kloc",
             "observability_findings", "observability_per_kloc", "infrastructure_findings",
             "infrastructure_per_kloc", *PARSE_METRICS),
)
COMPLEXITY = StaticCheckSpec(
    id="complexity", runs_in="tools", timeout_s=90.0,
    metrics=("average_cc", "max_cc", "functions", "functions_over_10", "maintainability_index_avg",
             "low_mi_files", *PARSE_METRICS),
)
PRACTICES = StaticCheckSpec(
    id="practices", runs_in="tools", timeout_s=120.0,
    metrics=("has_pinned_dependencies", "pinned_share", "has_dockerfile", "dockerfile_issues", "has_ci_config",
             "has_migrations", "has_env_example", "committed_env_file", "secrets_found", "dev_credentials_found",
             "has_readme_run_instructions", "logging_configured", "uses_context_managers", "uses_generators",
             "defines_decorators", "async_handlers_share", "blocking_calls_in_async", "idiom_share"),
)
CANDIDATE_TESTS = StaticCheckSpec(
    id="candidate_tests", runs_in="candidate", timeout_s=300.0,  # the module stops the suite at 225 s
    metrics=("tests_found", "tests_passed", "tests_failed", "tests_errors", "tests_skipped", "collection_errors",
             "pass_rate", "http_tests", "mocks_used", "upstream_calls", "coverage_percent", "line_coverage",
             "branch_coverage"),
)
HIDDEN_TESTS = SuiteCheckSpec()

STATIC_CHECKS: dict[str, StaticCheckSpec] = {
    check.id: check for check in (TYPECHECK, LINT, COMPLEXITY, PRACTICES, CANDIDATE_TESTS)
}
ALL_CHECKS: dict[str, CheckSpec[object]] = {**STATIC_CHECKS, HIDDEN_TESTS.id: HIDDEN_TESTS}


def static_checks_in(where: Where) -> tuple[StaticCheckSpec, ...]:
    """The static checks that run in one environment (`tools` or `candidate`), in registry order."""
    return tuple(check for check in STATIC_CHECKS.values() if check.runs_in == where)
