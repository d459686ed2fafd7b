"""benchmarks/cold.py: the per-step figures read from result.json, and the report of a run."""

from __future__ import annotations

from benchmarks.cold import STEPS, CohortFigures, Graded, Run, render, steps_of


def check(check_id: str, duration: float | None) -> dict[str, object]:
    return {"id": check_id, "duration_s": duration}


def test_a_checks_duration_counts_once_whatever_the_categories_it_scores() -> None:
    result = {
        "timings": {"resolve_s": 1.5, "build_s": 12.0, "total_s": 30.0},
        "checks": [check("hidden-tests/api_design", None), check("lint/infrastructure", 1.8),
                   check("lint/observability", 1.8), check("practices/testing", 4.0),
                   check("candidate_tests/testing", 9.5)],
    }
    steps = steps_of(result)
    assert steps["static_tools_s"] == 5.8 and steps["candidate_tests_s"] == 9.5
    assert (steps["resolve_s"], steps["build_s"], steps["total_s"]) == (1.5, 12.0, 30.0)


def test_the_report_names_every_step_each_run_and_the_members_that_did_not_run() -> None:
    ran = Graded("001-fastapi", "graded", "graded", "ran", None, False, {"build_s": 20.0, "total_s": 30.0})
    broken = Graded("002-flask", "start-fails", "graded", "did_not_run", "ModuleNotFoundError", False, {})
    run = Run("cold", 2, 50.0, 0, (3.0, 2.0, 1.0), (4.0, 3.0, 2.0), [ran, broken], base_changed=True)
    text = render(CohortFigures(2, 1, 2, [], runs=[run]))
    assert "| cold -j2 (base image replaced during the run) | 50.0 | 25.0 |" in text
    assert "1 graded, did_not_run, 1 graded, ran" in text and "3.0 -> 4.0" in text
    assert all(step.removesuffix("_s") in text for step in STEPS)
    assert "002-flask (meant to: start-fails): graded, did_not_run: ModuleNotFoundError" in text
    assert run.mean("build_s") == 10.0  # over the graded members, a missing step counting 0
