"""Compare two revisions of the grader on the same machine: `python -m benchmarks.compare OLD [NEW]`.

A refactoring must not make grading slower. Each revision is checked out into a temporary git worktree and
run through the command line (`python -m grader grade SOLUTION --force`, Docker backend, warm caches: one
untimed round first), alternating old and new for every solution and every round, so that load from other
work on the machine falls on both alike. Prints the median wall time per solution and the ratio new/old.
NEW defaults to the working tree. Not part of the test suite; needs the engine and the grader's images.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from benchmarks.workload import REPO_ROOT

SOLUTIONS = ("fastapi-ref", "django-ref", "flask-ref", "fastapi-flawed")
Timings = dict[tuple[str, str], list[float]]


def checkout(revision: str, parent: Path) -> Path:
    """A detached worktree of `revision` under `parent`."""
    target = parent / revision.replace("/", "_")
    subprocess.run(["git", "-C", str(REPO_ROOT), "worktree", "add", "--detach", "--quiet", str(target), revision],
                   check=True)
    return target


def grade_seconds(tree: Path, solution: str, out: Path) -> float:
    """Wall time of one forced grading of a hello-api solution by the grader in `tree`."""
    argv = [sys.executable, "-m", "grader", "grade", f"challenges/hello-api/solutions/{solution}",
            "--challenge", "hello-api", "--sandbox", "docker", "--out", str(out), "--force", "-q"]
    started = time.monotonic()
    done = subprocess.run(argv, cwd=tree, env=_env(tree), capture_output=True, text=True)
    elapsed = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"{tree.name}: grading {solution} failed (exit {done.returncode}): {done.stderr[-500:]}")
    return elapsed


def _env(tree: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(tree)}


def measure(trees: dict[str, Path], rounds: int, out: Path) -> Timings:
    """`rounds` timed rounds after one untimed warm-up, old and new alternating per solution."""
    timings: Timings = defaultdict(list)
    for round_number in range(rounds + 1):
        for solution in SOLUTIONS:
            for label, tree in trees.items():
                seconds = grade_seconds(tree, solution, out / label)
                if round_number:
                    timings[(solution, label)].append(seconds)
        print(f"round {round_number}/{rounds} done" + (" (warm-up, not counted)" if not round_number else ""),
              file=sys.stderr)
    return timings


def table(timings: Timings) -> str:
    """Markdown: median seconds per solution for old and new, and new/old."""
    lines = ["| solution | old (s) | new (s) | new/old |", "|---|---|---|---|"]
    totals = {"old": 0.0, "new": 0.0}
    for solution in SOLUTIONS:
        old, new = (statistics.median(timings[(solution, label)]) for label in ("old", "new"))
        totals["old"] += old
        totals["new"] += new
        lines.append(f"| {solution} | {old:.2f} | {new:.2f} | {new / old:.2f}x |")
    lines.append(f"| all | {totals['old']:.2f} | {totals['new']:.2f} | {totals['new'] / totals['old']:.2f}x |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", help="the revision to compare against (a commit, tag or branch)")
    parser.add_argument("new", nargs="?", help="the revision measured (default: this working tree)")
    parser.add_argument("--rounds", type=int, default=4, help="timed rounds (median over them)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="grader-compare-") as scratch:
        parent = Path(scratch)
        trees = {"old": checkout(args.old, parent), "new": checkout(args.new, parent) if args.new else REPO_ROOT}
        try:
            print(table(measure(trees, args.rounds, parent / "out")))
        finally:
            for tree in trees.values():
                if tree != REPO_ROOT:
                    subprocess.run(["git", "-C", str(REPO_ROOT), "worktree", "remove", "--force", str(tree)],
                                   check=False)


if __name__ == "__main__":
    main()
