"""Measure the grader against its tools' own cost and write docs/performance.md: `python -m benchmarks.run`.

(a) the grader's wall time per submission with warm caches; (b) the same tools run bare on the host on the
same code; (c) a naive baseline (fresh container, dependencies from the wheel cache, cold mypy, tools in
series); (d) bulk: 20 varied copies at -j1 and -j2, the naive cost of the same 20, a re-run, and peak memory.
Needs a Docker engine and the base image; uses the grader's normal cache (`$GRADER_CACHE_DIR` or
~/.cache/grader), which it warms first. Takes about 10 minutes on 2 cores. Not part of the test suite.

`--cohort N [--seed S] [--jobs 1,2] [--write PATH]` runs the cold-cohort benchmark instead (benchmarks/cold.py):
N generated submissions with distinct dependency sets, graded cold in a fresh cache, then warm, at each -j.
`--references CHALLENGE [--warm N] [--write PATH]`: a bundled challenge's references cold, then warm
(benchmarks/references.py).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import docker

from benchmarks.bare import bare_tools
from benchmarks.cold import run_cohort
from benchmarks.machine import describe, engine_costs
from benchmarks.memory import MemorySampler, Peaks
from benchmarks.naive import naive_run
from benchmarks.references import run_references
from benchmarks.report import Figures, render, targets
from benchmarks.workload import BULK_MIX, REPO_ROOT, make_cohort, prepare, solution_names
from grader.challenge import load_challenge
from grader.engine import connect
from grader.models import Challenge
from grader.paths import cache_root
from grader.pipeline import OVERLAP_ENV, grade_submission
from grader.sandbox import images
from grader.sandbox.docker import DockerSandbox

SOLUTIONS = REPO_ROOT / "challenges" / "hello-api" / "solutions"
DOC = REPO_ROOT / "docs" / "performance.md"
NOTES = (Path(__file__).resolve().parent / "notes.md")


def say(message: str) -> None:
    """Progress on stdout, flushed (the benchmark is long)."""
    print(message, flush=True)


def median_wall(run: Callable[[], object], repeats: int) -> float:
    """Median wall seconds of `repeats` calls."""
    walls = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        walls.append(time.perf_counter() - started)
    return statistics.median(walls)


def measure_warm(figures: Figures, challenge: Challenge, sandbox: DockerSandbox, scratch: Path, repeats: int) -> None:
    """(a): warm the caches with one grading per solution, then time `repeats` more of each."""
    for name in solution_names():
        source, out = SOLUTIONS / name, scratch / "warm"
        warmup = grade_submission(source, challenge, sandbox, out, log=lambda _: None, force=True)
        if warmup.status != "graded":
            raise SystemExit(f"{name} could not be graded: {warmup.error}")
        figures.warm[name] = median_wall(_regrade(source, challenge, sandbox, out), repeats)
        last = grade_submission(source, challenge, sandbox, out, log=lambda _: None)  # reused: the last timings
        figures.warm_stages[name] = last.timings.model_dump()
        say(f"  (a) {name}: {figures.warm[name]:.2f} s")


def _regrade(source: Path, challenge: Challenge, sandbox: DockerSandbox, out: Path) -> Callable[[], object]:
    def run() -> object:
        return grade_submission(source, challenge, sandbox, out, log=lambda _: None, force=True)

    return run


def cli(*args: str) -> list[str]:
    """argv for the grader's command line in this interpreter."""
    return [sys.executable, "-m", "grader", *args]


def measure_cli(figures: Figures, scratch: Path, repeats: int) -> None:
    """One submission through the command line: what a person waits for."""
    name = "fastapi-ref"
    argv = cli("grade", str(SOLUTIONS / name), "--challenge", "hello-api", "--sandbox", "docker", "--force",
               "--format", "json", "--out", str(scratch / "cli"))
    figures.cli_solution = name
    figures.cli_warm = median_wall(lambda: subprocess.run(argv, capture_output=True, check=True), repeats)
    say(f"  CLI {name}: {figures.cli_warm:.2f} s")


def measure_bare_and_naive(figures: Figures, challenge: Challenge, sandbox: DockerSandbox, client: Any) -> None:
    """(b) and (c) for every solution."""
    for name in solution_names():
        prepared = prepare(name, challenge, sandbox)
        figures.bare[name] = bare_tools(prepared, challenge)
        say(f"  (b) {name}: {sum(figures.bare[name].values()):.2f} s  {figures.bare[name]}")
        figures.naive[name] = naive_run(client, prepared, challenge)
        say(f"  (c) {name}: {figures.naive[name]:.1f} s")


def measure_bulk(figures: Figures, client: Any, scratch: Path) -> None:
    """(d): the cohort at -j1 and -j2 with memory sampling, then a re-run that reuses every result."""
    cohort = scratch / "cohort"
    sources = make_cohort(cohort)
    figures.bulk_count = len(sources)
    figures.bulk_mix = ", ".join(f"{count} x {name}" for name, count in BULK_MIX)
    figures.bulk_naive = sum(figures.naive[name] * count for name, count in BULK_MIX)
    for jobs in (1, 2):
        wall, peaks = bulk_run(client, cohort, scratch / f"bulk-j{jobs}", jobs, overlap=True)
        figures.bulk[jobs], figures.memory[jobs] = wall, peaks
        say(f"  (d) -j{jobs}: {wall:.1f} s, peak grader side {peaks.grader_side / 2**20:.0f} MiB, "
            f"CPUs busy {peaks.cpu_busy:.0%}")
    figures.serial_j1, _ = bulk_run(client, cohort, scratch / "bulk-serial", 1, overlap=False)
    say(f"  (d) -j1 without overlap: {figures.serial_j1:.1f} s")
    rerun = cli("grade", str(cohort), "--challenge", "hello-api", "--sandbox", "docker", "-j", "2", "--format",
                "json", "--out", str(scratch / "bulk-j2"))
    figures.rerun = median_wall(lambda: subprocess.run(rerun, capture_output=True, check=True), 1)
    say(f"  re-run: {figures.rerun:.1f} s")


def bulk_run(client: Any, cohort: Path, out: Path, jobs: int, overlap: bool) -> tuple[float, Peaks]:
    """One `grader grade COHORT --force -jN` from process start to exit, with memory and CPU sampling."""
    argv = cli("grade", str(cohort), "--challenge", "hello-api", "--sandbox", "docker", "--force", "-j", str(jobs),
               "--format", "json", "--out", str(out))
    env = {**os.environ, OVERLAP_ENV: "1" if overlap else "0"}
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    sampler = MemorySampler(client, cache_root(), proc.pid).start()
    _, stderr = proc.communicate()
    wall = time.perf_counter() - started
    peaks = sampler.stop()
    if proc.returncode != 0:
        raise SystemExit(f"the -j{jobs} bulk run failed ({proc.returncode}):\n{stderr[-3000:]}")
    return wall, peaks


def _jobs(text: str) -> list[int]:
    """`1,2` -> [1, 2]."""
    values = [int(part) for part in text.split(",") if part.strip()]
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("--jobs takes positive numbers separated by commas, e.g. 1,2")
    return values


def main(argv: list[str] | None = None) -> int:
    """Run everything, print the figures and the targets, write docs/performance.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeats", type=int, default=3, help="timed gradings per solution (median)")
    parser.add_argument("--doc", type=Path, default=DOC, help="where to write the Markdown report")
    parser.add_argument("--cohort", type=int, metavar="N",
                        help="instead: grade N generated submissions with distinct dependency sets, cold then warm "
                             "(benchmarks/cold.py); docs/performance.md is not written")
    parser.add_argument("--seed", type=int, default=1, help="--cohort: the generator's seed")
    parser.add_argument("--jobs", type=_jobs, default=[1, 2], help="--cohort: the -j values to run, e.g. 1,2")
    parser.add_argument("--write", type=Path, help="--cohort: also write the figures to PATH (Markdown) and PATH.json")
    parser.add_argument("--cold-only", action="store_true", help="--cohort: skip the warm runs")
    parser.add_argument("--cache-max-size", metavar="SIZE",
                        help="--cohort: grade with `--cache-max-size SIZE` and report each run's cache at its end")
    parser.add_argument("--profile", type=Path, metavar="DIR",
                        help="--cohort: a py-spy profile of each run into DIR, split by what the gradings wait on")
    parser.add_argument("--references", metavar="CHALLENGE",
                        help="grade a bundled challenge's references cold, then warm (benchmarks/references.py)")
    parser.add_argument("--warm", type=int, default=3, help="--references: warm gradings per reference (median)")
    args = parser.parse_args(argv)
    if args.cohort is not None:
        return run_cohort(args.cohort, args.seed, args.jobs, args.write, warm=not args.cold_only,
                          profiles=args.profile, cache_max_size=args.cache_max_size)
    if args.references is not None:
        return run_references(args.references, args.warm, args.write)
    started = time.perf_counter()
    connect().close()  # a clear sentence when no engine answers
    client = docker.from_env(timeout=60)  # the benchmark's own measurements read the engine directly
    challenge = load_challenge("hello-api")
    sandbox = DockerSandbox(python=challenge.python, client=client)
    sandbox.base_image()
    figures = Figures(machine=describe(client), load_before=os.getloadavg(), repeats=args.repeats,
                      engine=engine_costs(client, images.base_image_tag(challenge.python)))
    say(f"benchmark on {figures.machine.cpus} CPUs, cache {cache_root()}, load {figures.load_before}")
    with tempfile.TemporaryDirectory(prefix="grader-bench-") as tmp:
        scratch = Path(tmp)
        measure_warm(figures, challenge, sandbox, scratch, args.repeats)
        measure_cli(figures, scratch, args.repeats)
        measure_bare_and_naive(figures, challenge, sandbox, client)
        measure_bulk(figures, client, scratch)
    figures.load_after = os.getloadavg()
    figures.runtime = time.perf_counter() - started
    for target in targets(figures):
        say(f"{'MET   ' if target.met else 'MISSED'} {target.text}: {target.measured}")
    args.doc.parent.mkdir(parents=True, exist_ok=True)
    args.doc.write_text(render(figures, NOTES.read_text()))
    say(f"wrote {args.doc} in {figures.runtime / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
