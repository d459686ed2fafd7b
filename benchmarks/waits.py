"""Where a grading run's threads spend their time, from a py-spy profile: `python -m benchmarks.waits PROFILE...`.

Record one with `py-spy record --idle --format raw -r 20 -o PROFILE --pid <grader pid>` (`--idle` keeps the
samples of threads that wait, which is what this is about). Each sample of a grading thread (`grader-N`) is put
with the grader's code on its stack (the main thread, which only waits for the gradings, left out) is put in
the first category whose marker appears in its stack.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

# (category, markers): the first category with a marker in the stack wins, so narrower ones come first.
CATEGORIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("waiting for another grading's lock (wheel set or image)", ("entry_lock",)),
    ("downloading wheels", ("fetch_all",)),
    ("resolving (uv, in a subprocess)", ("resolve (grader/resolve.py", "resolve_dependencies")),
    ("building the environment image (install container and commit; docker build before)",
     ("_build_python_image", "Engine.build")),
    ("environment: other", ("prepare_environment",)),
    ("the app's process-count sampler (a thread of its own)", ("PeakPids",)),
    ("static checks (tool and candidate-test containers)", ("run_static_job", "run_static (grader/sandbox")),
    ("waiting for its static checks and app (threads beside it)", ("join (grader/steps/runs.py",)),
    ("app start and hidden suite (runner, app containers)", ("run_app (grader/steps/runs", "supervise")),
    ("intake", ("read_project", "take (grader/steps/intake")),
    ("scoring and result", ("score (grader/steps/scoring", "graded_result", "write_result")),
)


def categorize(stack: str) -> str:
    """The category of one sampled stack."""
    for name, markers in CATEGORIES:
        if any(marker in stack for marker in markers):
            return name
    return "other"


WORKER_MARKER = "_work (grader/bulk/runner.py"  # the thread of one grading, from its start to its result


def read_profile(path: Path, workers_only: bool = False) -> Counter[str]:
    """Samples per category over the grading threads of one raw (collapsed) py-spy profile.

    `workers_only`: only the thread each grading runs in (its wall time), not the threads it starts for its
    static checks and its app's sampler (which run beside it, so all threads together exceed the wall time).
    """
    counts: Counter[str] = Counter()
    for line in path.read_text(errors="replace").splitlines():
        stack, _, number = line.rpartition(" ")
        if not number.isdigit() or "(grader/" not in stack or "grader/cli/grading.py" in stack:
            continue  # not the grader's code, or the main thread waiting for the gradings
        if workers_only and WORKER_MARKER not in stack:
            continue
        counts[categorize(stack)] += int(number)
    return counts


def main(argv: list[str] | None = None) -> int:
    """Print each profile's split, as shares of the grading threads' samples."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("profiles", type=Path, nargs="+")
    args = parser.parse_args(argv)
    for path in args.profiles:
        for workers_only, what in ((True, "the gradings' own threads (their wall time)"),
                                   (False, "all the grader's threads")):
            counts = read_profile(path, workers_only)
            total = sum(counts.values()) or 1
            print(f"{path}: {what}, {total} samples")
            for name, count in counts.most_common():
                print(f"  {count / total:6.1%}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
