"""benchmarks/waits.py: py-spy stacks of grading threads sorted into what they wait on."""

from __future__ import annotations

from pathlib import Path

from benchmarks.waits import categorize, read_profile

WORKER = "Thread.run (threading.py:982);_work (grader/bulk/runner.py:297);grade_submission (grader/pipeline.py:98)"
BUILD = f"{WORKER};prepare_environment (grader/steps/environment.py:45);Engine.build (grader/engine.py:417)"
LOCKED = f"{WORKER};prepare_wheels (grader/environments.py:130);entry_lock (grader/cache.py:120);Engine.build (x)"
MAIN = "<module> (grader/__main__.py:5);grade (grader/cli/grading.py:130);Queue.get (queue.py:180)"


def test_a_stack_goes_to_the_first_category_it_matches() -> None:
    assert categorize(BUILD) == "building the environment image (install container and commit; docker build before)"
    assert categorize(LOCKED).startswith("waiting for another grading's lock")
    assert categorize(WORKER) == "other"


def test_the_main_thread_and_foreign_stacks_are_not_counted(tmp_path: Path) -> None:
    profile = tmp_path / "raw.txt"
    profile.write_text(f"{BUILD} 30\n{LOCKED} 10\n{MAIN} 500\nselect (selectors.py:1) 7\n")
    counts = read_profile(profile)
    assert sum(counts.values()) == 40
    assert counts["building the environment image (install container and commit; docker build before)"] == 30


def test_workers_only_leaves_out_the_threads_a_grading_starts(tmp_path: Path) -> None:
    static = "Thread.run (threading.py:982);_run (grader/steps/runs.py:180);run_static_job (grader/steps/runs.py:70)"
    profile = tmp_path / "raw.txt"
    profile.write_text(f"{BUILD} 30\n{static} 20\n")
    assert sum(read_profile(profile).values()) == 50
    assert sum(read_profile(profile, workers_only=True).values()) == 30
