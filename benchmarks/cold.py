"""Grade a generated cold cohort (benchmarks/cohort.py) cold, then warm, at each -j: `python -m benchmarks.run
--cohort N [--seed S] [--jobs 1,2] [--write PATH]`.

Each cold run gets a fresh grader cache (`GRADER_CACHE_DIR` in a scratch folder: no wheel set, no wheel in
the content-addressed store, no uv resolver cache, no mypy seed), and the `grader-env` images a previous run
of this benchmark built for the same cohort are removed first, so every member resolves, downloads and
builds its environment. One bundled reference (fastapi-ref) is graded first, untimed, in that cache: it
makes the runner's wheel set and the mypy seed, which every grading needs and no cohort pays again, and
leaves in the store the wheels it fetched ("warm only for what earlier submissions fetched"). What stays
warm across runs: the Docker engine's base and runner images, the package index itself (PyPI through the
network; its HTTP caches outside the grader are not touched) and the kernel's page cache.

The warm run grades the same cohort again with `--force` in the same cache: every wheel set and image is
reused. Figures come from the grader's own records (`timings` and each check's `duration_s` in result.json),
the run's wall time from process start to exit, memory from benchmarks/memory.py, and leaks from the
engine (resources labelled with this run's `grader.test-run`) and /proc (processes still carrying it).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.cohort import SOLUTIONS, Member, write_cohort
from benchmarks.cpusplit import CpuSplit, read_cpu, split
from benchmarks.memory import MemorySampler

TEST_RUN_LABEL = "grader.test-run"
BASE_IMAGE = "grader-base:py3.11"  # hello-api's Python
# The parts of one grading, from result.json: timings fields, then check durations (seconds).
STEPS = ("resolve_s", "download_s", "build_s", "environment_s", "app_start_s", "tests_s", "static_tools_s",
         "candidate_tests_s", "static_s", "total_s")


def say(message: str) -> None:
    """Progress on stdout, flushed."""
    print(message, flush=True)


@dataclass
class Graded:
    """One member's outcome and steps, read from its result.json."""

    name: str
    expect: str
    status: str
    outcome: str | None
    reason: str | None
    reused_environment: bool | None
    steps: dict[str, float]


@dataclass
class Run:
    """One `grader grade COHORT` run."""

    label: str
    jobs: int
    wall_s: float
    exit_code: int
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]
    members: list[Graded] = field(default_factory=list)
    peak_grader_side_mib: float = 0.0
    peak_grader_processes_mib: float = 0.0
    cpu_busy: float = 0.0
    cpu: CpuSplit | None = None  # CPU seconds by where (benchmarks/cpusplit.py)
    cpu_by_role: dict[str, float] = field(default_factory=dict)  # the grader's containers, sampled every 0.2 s
    cache_bytes: int | None = None  # the run's cache when it ended: its disk and the images it marked used
    cache_counted_bytes: int | None = None  # of which what --cache-max-size counts (grader.cache.counted_size)
    grader_rss_mib: list[float] = field(default_factory=list)  # the grader process's own memory at 0, 25 .. 100%
    leaks: dict[str, list[str]] = field(default_factory=dict)
    base_changed: bool = False  # the base image was replaced during the run (another session): keys changed

    def counts(self) -> dict[str, int]:
        """graded (ran / did not run) and errored."""
        return dict(Counter(m.status if m.status != "graded" else f"graded, {m.outcome}" for m in self.members))

    def mean(self, step: str, only_new_environments: bool = False) -> float:
        """The mean of a step over the graded members (those that built their environment, if asked)."""
        values = [m.steps.get(step, 0.0) for m in self.members if m.status == "graded"
                  and (not only_new_environments or m.reused_environment is False)]
        return statistics.fmean(values) if values else 0.0


@dataclass
class CohortFigures:
    """Everything the cold-cohort benchmark measured."""

    n: int
    seed: int
    cpus: int
    members: list[dict[str, Any]]
    prewarm_s: dict[int, float] = field(default_factory=dict)
    runs: list[Run] = field(default_factory=list)


def measure_cohort(n: int, seed: int, jobs_list: list[int], client: Any, warm: bool = True,
                   profiles: Path | None = None, cache_max_size: str | None = None) -> CohortFigures:
    """Write the cohort, then for each -j: a fresh cache, the untimed prewarm, the cold run, the warm run
    (unless `warm` is False: a large cohort's warm run doubles the benchmark's time). `profiles`: a folder for
    a py-spy profile of each run (benchmarks/waits.py reads them)."""
    figures = CohortFigures(n, seed, os.cpu_count() or 1, [])
    images_before = env_images(client)
    with tempfile.TemporaryDirectory(prefix="grader-cold-") as tmp:
        scratch = Path(tmp)
        members = write_cohort(scratch / "cohort", n, seed)
        figures.members = [asdict(m) for m in members]
        say(f"cohort of {n} (seed {seed}) in {scratch / 'cohort'}: "
            f"{Counter(m.expect for m in members)}, {Counter(m.packaging for m in members)}")
        built: set[str] = set()
        for jobs in jobs_list:
            removed = remove_images(client, built - images_before)
            built.clear()  # removed, or kept because someone uses them: not this benchmark's to remove again
            if removed:
                say(f"  removed {removed} grader-env image(s) this benchmark built, so the run is cold again")
            cache = scratch / f"cache-j{jobs}"
            env = {**os.environ, "GRADER_CACHE_DIR": str(cache)}
            if cache_max_size:  # the gradings keep it (grader grade --cache-max-size), the prewarm too
                env["GRADER_CACHE_MAX_SIZE"] = cache_max_size
            started = time.perf_counter()
            prewarm(scratch, env)
            figures.prewarm_s[jobs] = time.perf_counter() - started
            say(f"  prewarm (fastapi-ref, fresh cache) {figures.prewarm_s[jobs]:.1f} s")
            for label in ("cold", "warm") if warm else ("cold",):
                profile = profiles / f"{label}-j{jobs}.txt" if profiles is not None else None
                run = grade_run(client, scratch / "cohort", scratch / f"{label}-j{jobs}", jobs, label, env, members,
                                profile)
                figures.runs.append(run)
                built |= {m_image for m_image in _images_of(scratch / f"{label}-j{jobs}") if m_image}
                say(summary_line(run))
        removed = remove_images(client, built - images_before)
        say(f"  removed {removed} grader-env image(s) this benchmark built")
    return figures


def prewarm(scratch: Path, env: dict[str, str]) -> None:
    """Grade one bundled reference in the fresh cache (untimed): the runner's wheels and the mypy seed."""
    argv = cli("grade", str(SOLUTIONS / "fastapi-ref"), "--challenge", "hello-api", "--sandbox", "docker",
               "--force", "--format", "json", "--out", str(scratch / "prewarm"))
    done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    if done.returncode not in (0, 4):
        raise SystemExit(f"the prewarm grading failed ({done.returncode}):\n{done.stderr[-3000:]}")


def cli(*args: str) -> list[str]:
    """argv for the grader's command line in this interpreter."""
    return [sys.executable, "-m", "grader", *args]


def grade_run(client: Any, cohort: Path, out: Path, jobs: int, label: str, env: dict[str, str],
              members: list[Member], profile: Path | None = None) -> Run:
    """One `grader grade COHORT --force -jN`, timed from process start to exit, memory sampled, leaks counted;
    with `profile`, py-spy samples the grader process into that file the whole time."""
    run_id = f"bench-cold-{uuid.uuid4().hex[:10]}"
    argv = cli("grade", str(cohort), "--challenge", "hello-api", "--sandbox", "docker", "--force", "-j", str(jobs),
               "--format", "json", "--out", str(out))
    load_before, base_before = os.getloadavg(), base_image_id(client)
    cpu_before = read_cpu()
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**env, "GRADER_TEST_RUN": run_id})
    sampler = MemorySampler(client, Path(env["GRADER_CACHE_DIR"]), proc.pid).start()
    spy = start_profile(proc.pid, profile) if profile is not None else None
    _, stderr = proc.communicate()
    wall = time.perf_counter() - started
    cpu = split(cpu_before, read_cpu())  # before py-spy is reaped: its time is not the grader's
    peaks = sampler.stop()
    if spy is not None and profile is not None:
        finish_profile(spy, profile)
    run = Run(label, jobs, wall, proc.returncode, load_before, os.getloadavg(),
              peak_grader_side_mib=peaks.grader_side / 2**20, peak_grader_processes_mib=peaks.processes / 2**20,
              cpu_busy=peaks.cpu_busy, cpu=cpu, cpu_by_role=peaks.cpu_by_role, leaks=leaks(client, run_id),
              base_changed=base_image_id(client) != base_before)
    if run.base_changed:
        say(f"  warning: {BASE_IMAGE} was replaced during the {label} -j{jobs} run (by other work on the engine): "
            "every environment key changed, so this run built its images and runner again")
    if proc.returncode not in (0, 4):
        say(f"  the {label} -j{jobs} run exited with {proc.returncode}: {stderr[-1500:]}")
    run.members = [read_member(out, member) for member in members]
    run.cache_bytes, run.cache_counted_bytes = cache_size(Path(env["GRADER_CACHE_DIR"]))
    run.grader_rss_mib = quartiles(peaks.grader_rss)
    return run


def quartiles(samples: list[int]) -> list[float]:
    """The samples at 0, 25, 50, 75 and 100% of the run (MiB): flat memory reads as five close figures."""
    if not samples:
        return []
    return [samples[min(len(samples) - 1, round(share * (len(samples) - 1)))] / 2**20
            for share in (0.0, 0.25, 0.5, 0.75, 1.0)]


def cache_size(cache_dir: Path) -> tuple[int, int]:
    """Bytes of a grader cache (its disk caches and the images it marked used), and of what --cache-max-size
    counts of it (not the runner image and its mypy seed)."""
    from grader import cache
    from grader.engine import connect
    from grader.sandbox.images import EngineImages

    before = os.environ.get("GRADER_CACHE_DIR")
    os.environ["GRADER_CACHE_DIR"] = str(cache_dir)
    try:
        disk = sum(group.size for group in cache.disk_groups())
        usage = cache_dir / "usage"
        engine_images = EngineImages(connect())
        images = sum(record.unique_size for record in engine_images.records()
                     if record.key and (usage / f"image-{record.key}").exists())
        counted = cache.counted_size(engine_images)
    finally:
        if before is None:
            os.environ.pop("GRADER_CACHE_DIR", None)
        else:
            os.environ["GRADER_CACHE_DIR"] = before
    return disk + images, counted


def start_profile(pid: int, profile: Path) -> subprocess.Popen[bytes]:
    """py-spy sampling `pid` (its threads too, waiting ones included: what they wait on is the question) until
    it exits, into `profile` as collapsed stacks."""
    profile.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen([py_spy(), "record", "--idle", "--format", "raw", "-r", "20", "-o", str(profile),
                             "--pid", str(pid)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def py_spy() -> str:
    """The py-spy executable: beside this interpreter (a venv not activated) or on PATH."""
    spy = shutil.which("py-spy", path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    if spy is None:
        raise SystemExit("--profile needs py-spy: pip install py-spy (it is in the [dev] extra)")
    return spy


def finish_profile(spy: subprocess.Popen[bytes], profile: Path) -> None:
    """Wait for py-spy to write the profile (it stops when the grader exits), then print where the time went."""
    from benchmarks.waits import read_profile

    try:
        _, stderr = spy.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        spy.kill()
        _, stderr = spy.communicate()
    if not profile.is_file():
        say(f"  py-spy wrote no profile ({stderr.decode(errors='replace').strip()[-300:]})")
        return
    counts = read_profile(profile, workers_only=True)
    total = sum(counts.values()) or 1
    say(f"  profile {profile}: the gradings' own threads, {total} samples")
    for name, count in counts.most_common():
        say(f"    {count / total:6.1%}  {name}")


def read_member(out: Path, member: Member) -> Graded:
    """A member's status, reason and steps from its result.json (a missing result is an error of its own)."""
    path = out / member.name / "result.json"
    if not path.is_file():
        return Graded(member.name, member.expect, "missing", None, "no result.json was written", None, {})
    data = json.loads(path.read_text())
    return Graded(member.name, member.expect, data["status"], data.get("outcome"), _reason(data),
                  (data.get("sandbox") or {}).get("environment_reused"), steps_of(data))


def _reason(data: dict[str, Any]) -> str | None:
    if data["status"] != "graded":
        return str(data.get("error"))[:200]
    app = data.get("app") or {}
    return str(app.get("problem"))[:200] if data.get("outcome") == "did_not_run" else None


def steps_of(result: dict[str, Any]) -> dict[str, float]:
    """The timings of a result, with the tool checks' and the candidate's tests' durations (each check once)."""
    steps = {key: float(value) for key, value in (result.get("timings") or {}).items()}
    durations: dict[str, float] = {}
    for check in result.get("checks", []):
        check_id = str(check["id"]).split("/")[0]
        if check.get("duration_s") is not None:
            durations[check_id] = float(check["duration_s"])
    steps["candidate_tests_s"] = durations.pop("candidate_tests", 0.0)
    steps["static_tools_s"] = sum(durations.values())  # run one after the other in the tools container
    return steps


def leaks(client: Any, run_id: str) -> dict[str, list[str]]:
    """What the run left behind: its labelled containers, volumes and networks, and processes carrying its id."""
    label = f"{TEST_RUN_LABEL}={run_id}"
    found = {
        "containers": [c.name for c in client.containers.list(all=True, filters={"label": label})],
        "volumes": [v.name for v in client.volumes.list(filters={"label": label})],
        "networks": [n.name for n in client.networks.list(filters={"label": label})],
        "processes": processes_with(f"GRADER_TEST_RUN={run_id}"),
    }
    return found


def processes_with(variable: str) -> list[str]:
    """`pid command` of live processes whose environment holds `variable` (this user's, as /proc lets us)."""
    needle = variable.encode() + b"\0"
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if needle in environ.read_bytes() + b"\0":
                found.append(f"{environ.parent.name} {(environ.parent / 'cmdline').read_bytes()[:120]!r}")
        except OSError:
            continue
    return found


def base_image_id(client: Any) -> str | None:
    """The id of the base image every environment key includes (None: missing)."""
    try:
        return str(client.images.get(BASE_IMAGE).id)
    except Exception:  # missing, or the engine did not answer: compared as "changed"
        return None


def env_images(client: Any) -> set[str]:
    """The grader-env image tags the engine holds now."""
    return {tag for image in client.images.list(name="grader-env") for tag in image.tags}


def _images_of(out: Path) -> list[str]:
    images = []
    for path in out.glob("*/result.json"):
        image = (json.loads(path.read_text()).get("sandbox") or {}).get("image")
        if isinstance(image, str) and image.startswith("grader-env:"):
            images.append(image)
    return images


def remove_images(client: Any, tags: set[str]) -> int:
    """Remove the given grader-env images (only ones this benchmark built); in use or gone: left alone."""
    import docker.errors

    removed = 0
    for tag in sorted(tags):
        try:
            client.images.remove(tag)
            removed += 1
        except docker.errors.ImageNotFound:
            continue  # gone already (the grader's own cache pruning, or another session)
        except docker.errors.APIError as exc:  # in use by a container: not ours to force
            say(f"  kept {tag}: {exc}")
    return removed


def summary_line(run: Run) -> str:
    """One line for the progress log."""
    n = len(run.members)
    return (f"  {run.label} -j{run.jobs}: {run.wall_s:.1f} s for {n} ({run.wall_s / n:.1f} s each), "
            f"{run.counts()}, load {_load(run.load_before)} -> {_load(run.load_after)}, "
            f"peak grader side {run.peak_grader_side_mib:.0f} MiB, leaks {sum(map(len, run.leaks.values()))}, "
            f"cache at the end {_mib(run.cache_bytes)} ({_mib(run.cache_counted_bytes)} counted by the size), "
            f"grader RSS over the run "
            f"{' -> '.join(f'{value:.0f}' for value in run.grader_rss_mib)} MiB")


def render(figures: CohortFigures) -> str:
    """The figures as Markdown (for benchmarks/notes.md; measured under whatever load the machine had)."""
    lines = [f"Cold cohort: {figures.n} generated hello-api submissions (seed {figures.seed}), {figures.cpus} CPUs.",
             "", "| run | wall (s) | per submission (s) | graded / errored | environments reused | "
             "load 1-min before -> after | peak grader side | CPUs busy | leaked | cache at the end |",
             "|---" * 10 + "|"]
    for run in figures.runs:
        n = len(run.members)
        leaked = sum(map(len, run.leaks.values()))
        label = f"{run.label} -j{run.jobs}" + (" (base image replaced during the run)" if run.base_changed else "")
        lines.append(f"| {label} | {run.wall_s:.1f} | {run.wall_s / n:.1f} | "
                     f"{_counts(run)} | {sum(m.reused_environment is True for m in run.members)} | "
                     f"{run.load_before[0]:.1f} -> {run.load_after[0]:.1f} | "
                     f"{run.peak_grader_side_mib:.0f} MiB | {run.cpu_busy:.0%} | {leaked} | {_mib(run.cache_bytes)} "
                     f"({_mib(run.cache_counted_bytes)} counted) |")
    lines += ["", "Mean seconds per graded submission, from result.json (`timings`, and the checks' `duration_s`; "
              "static tools and the candidate's tests overlap the app's start and the hidden suite):", "",
              "| run | " + " | ".join(s.removesuffix("_s") for s in STEPS) + " |", "|---|" + "---|" * len(STEPS)]
    for run in figures.runs:
        lines.append(f"| {run.label} -j{run.jobs} | " + " | ".join(f"{run.mean(s):.1f}" for s in STEPS) + " |")
    lines += ["", "CPU seconds per member, by where (benchmarks/cpusplit.py; containers: every container on the "
              "engine; engine: dockerd and containerd; grader: its process and what it ran on the host; other: the "
              "rest of the machine's busy time, containers' shims and the kernel's work for them included):", "",
              "| run | containers | engine | grader | other | busy | floor at 100% of the CPUs (s per member) |",
              "|---|---|---|---|---|---|---|"]
    for run in figures.runs:
        lines.append(cpu_row(run, figures.cpus))
    roles = sorted({role for run in figures.runs for role in run.cpu_by_role})
    lines += ["", "CPU seconds per member in the grader's containers, by role (sampled every 0.2 s, so a container "
              "that lived less than that is missing, and the last 0.2 s of each is too):", "",
              "| run | " + " | ".join(roles) + " |", "|---|" + "---|" * len(roles)]
    for run in figures.runs:
        n = len(run.members) or 1
        lines.append(f"| {run.label} -j{run.jobs} | "
                     + " | ".join(f"{run.cpu_by_role.get(role, 0.0) / n:.2f}" for role in roles) + " |")
    lines += ["", "The grader process's own memory (RSS, no children) at 0, 25, 50, 75 and 100% of each run, MiB:", ""]
    for run in figures.runs:
        lines.append(f"- {run.label} -j{run.jobs}: " + ", ".join(f"{value:.0f}" for value in run.grader_rss_mib))
    lines += ["", "Members that did not grade normally:", ""]
    for run in figures.runs[:1]:
        for m in run.members:
            if m.status != "graded" or m.outcome != "ran":
                lines.append(f"- {m.name} (meant to: {m.expect}): {m.status}, {m.outcome}: {m.reason}")
    return "\n".join(lines) + "\n"


def cpu_row(run: Run, cpus: int) -> str:
    """One run's CPU split, per member."""
    n = len(run.members) or 1
    cpu = run.cpu
    if cpu is None:
        return f"| {run.label} -j{run.jobs} | - | - | - | - | - | - |"

    def each(value: float | None) -> str:
        return "-" if value is None else f"{value / n:.2f}"

    return (f"| {run.label} -j{run.jobs} | {each(cpu.containers)} | {each(cpu.engine)} | {each(cpu.grader)} | "
            f"{each(cpu.other)} | {each(cpu.busy)} | {cpu.busy / n / cpus:.2f} |")


def _mib(size: int | None) -> str:
    return "-" if size is None else f"{size / 2**20:.0f} MiB"


def _counts(run: Run) -> str:
    return ", ".join(f"{count} {what}" for what, count in sorted(run.counts().items()))


def _load(load: tuple[float, float, float]) -> str:
    return "/".join(f"{value:.1f}" for value in load)


def write_figures(figures: CohortFigures, path: Path) -> None:
    """The Markdown beside a JSON file of every figure (`PATH` and `PATH.json`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(figures))
    path.with_suffix(path.suffix + ".json").write_text(json.dumps(asdict(figures), indent=1, default=str))


def run_cohort(n: int, seed: int, jobs_list: list[int], write: Path | None, warm: bool = True,
               profiles: Path | None = None, cache_max_size: str | None = None) -> int:
    """The `--cohort N` entry point of benchmarks.run."""
    import docker

    from grader.engine import connect

    connect().close()  # a clear sentence when no engine answers
    if profiles is not None:
        py_spy()  # before anything runs: a missing py-spy must not stop the benchmark halfway
    client = docker.from_env(timeout=120)
    figures = measure_cohort(n, seed, jobs_list, client, warm, profiles, cache_max_size)
    say(render(figures))
    if write is not None:
        write_figures(figures, write)
        say(f"wrote {write} and {write}.json")
    return 0
