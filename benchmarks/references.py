"""A challenge's reference solutions graded cold, then warm: `python -m benchmarks.run --references orders-api`.

The cold cohort (benchmarks/cold.py) is hello-api-sized; issue 20 asks for the orders-api references too,
which bring PostgreSQL and heavier dependency sets (asyncpg, psycopg, Django). For each reference:

1. one untimed grading finds its environment image (`sandbox.image` in result.json), which is then removed
   (only that tag: an image another grading is using is left alone and the run is marked "not cold");
2. the cold grading: a fresh `GRADER_CACHE_DIR` (no wheel set, no stored wheel, no uv cache), prewarmed only
   with the runner's wheels and the mypy seed (one hello-api grading, untimed), so the reference resolves,
   downloads and builds its environment;
3. `--warm N` warm gradings (`--force`, same cache: the environment is reused), median reported.

Each grading is one `grader grade` process timed from start to exit; the steps come from result.json.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import tempfile
import time
import tomllib
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.cold import STEPS, cli, leaks, prewarm, remove_images, say, steps_of
from benchmarks.workload import REPO_ROOT


@dataclass
class ReferenceFigures:
    """Cold and warm gradings of one reference."""

    name: str
    image: str | None = None
    cold_really: bool = True  # False: its image could not be removed first (in use), so "cold" reused it
    cold_wall_s: float = 0.0
    cold_steps: dict[str, float] = field(default_factory=dict)
    cold_reused_environment: bool | None = None
    warm_walls_s: list[float] = field(default_factory=list)
    warm_steps: dict[str, float] = field(default_factory=dict)
    overall: float | None = None
    leaked: int = 0

    @property
    def warm_median_s(self) -> float:
        return statistics.median(self.warm_walls_s) if self.warm_walls_s else 0.0


def references_of(challenge: str) -> list[str]:
    """The names of a bundled challenge's reference solutions, in challenge.toml's order."""
    data = tomllib.loads((REPO_ROOT / "challenges" / challenge / "challenge.toml").read_text())
    return [name for name, spec in data.get("solutions", {}).items() if spec.get("kind") == "reference"]


def grade_once(client: Any, challenge: str, name: str, out: Path,
               env: dict[str, str]) -> tuple[float, dict[str, Any], int]:
    """One timed `grader grade` of a reference: wall seconds, its result.json, and leaked resources."""
    run_id = f"bench-refs-{uuid.uuid4().hex[:10]}"
    source = REPO_ROOT / "challenges" / challenge / "solutions" / name
    argv = cli("grade", str(source), "--challenge", challenge, "--sandbox", "docker", "--force",
               "--format", "json", "--out", str(out))
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env={**env, "GRADER_TEST_RUN": run_id}, check=False)
    wall = time.perf_counter() - started
    if done.returncode not in (0, 4):
        raise SystemExit(f"grading {challenge}/{name} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    result = json.loads((out / name / "result.json").read_text())
    return wall, result, sum(map(len, leaks(client, run_id).values()))


def _image(result: dict[str, Any]) -> str | None:
    image = (result.get("sandbox") or {}).get("image")
    return image if isinstance(image, str) and image.startswith("grader-env:") else None


def measure_reference(client: Any, challenge: str, name: str, scratch: Path, warm: int) -> ReferenceFigures:
    """Probe, remove the environment image, grade cold in a fresh cache, then `warm` times warm."""
    figures = ReferenceFigures(name)
    probe_env = {**os.environ, "GRADER_CACHE_DIR": str(scratch / "probe-cache")}
    _, probe, _ = grade_once(client, challenge, name, scratch / "probe", probe_env)
    figures.image = _image(probe)
    if figures.image and not remove_images(client, {figures.image}):
        figures.cold_really = False
    cache = scratch / f"cache-{name}"
    env = {**os.environ, "GRADER_CACHE_DIR": str(cache)}
    prewarm(scratch, env)
    figures.cold_wall_s, cold, figures.leaked = grade_once(client, challenge, name, scratch / "cold", env)
    figures.cold_steps = steps_of(cold)
    figures.cold_reused_environment = (cold.get("sandbox") or {}).get("environment_reused")
    for _ in range(warm):
        wall, result, leaked = grade_once(client, challenge, name, scratch / "warm", env)
        figures.leaked += leaked
        figures.warm_walls_s.append(wall)
        figures.warm_steps = steps_of(result)
        figures.overall = result.get("overall")
    say(f"  {challenge}/{name}: cold {figures.cold_wall_s:.1f} s (environment reused: "
        f"{figures.cold_reused_environment}), warm median {figures.warm_median_s:.1f} s "
        f"of {[round(w, 1) for w in figures.warm_walls_s]}")
    return figures


def render_references(challenge: str, rows: list[ReferenceFigures], load: tuple[float, float]) -> str:
    """The figures as Markdown."""
    lines = [f"{challenge} references, cold then warm (load 1-min {load[0]:.1f} before, {load[1]:.1f} after):", "",
             "| reference | cold (s) | warm median (s) | cold / warm | warm gradings | cold really cold | overall "
             "| leaked |",
             "|---|---|---|---|---|---|---|---|"]
    for row in rows:
        ratio = row.cold_wall_s / row.warm_median_s if row.warm_median_s else 0.0
        lines.append(f"| {row.name} | {row.cold_wall_s:.1f} | {row.warm_median_s:.1f} | {ratio:.2f}x | "
                     f"{', '.join(f'{w:.1f}' for w in row.warm_walls_s)} | "
                     f"{'yes' if row.cold_really and row.cold_reused_environment is False else 'no'} | {row.overall} | "
                     f"{row.leaked} |")
    lines += ["", "Seconds per step (result.json), cold / warm:", "",
              "| reference | " + " | ".join(s.removesuffix("_s") for s in STEPS) + " |", "|---|" + "---|" * len(STEPS)]
    for row in rows:
        cells = [f"{row.cold_steps.get(s, 0.0):.1f} / {row.warm_steps.get(s, 0.0):.1f}" for s in STEPS]
        lines.append(f"| {row.name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def run_references(challenge: str, warm: int, write: Path | None) -> int:
    """The `--references CHALLENGE` entry point of benchmarks.run."""
    import docker

    from grader.engine import connect

    connect().close()  # a clear sentence when no engine answers
    client = docker.from_env(timeout=120)
    load_before = os.getloadavg()[0]
    rows = []
    with tempfile.TemporaryDirectory(prefix="grader-refs-") as tmp:
        for name in references_of(challenge):
            rows.append(measure_reference(client, challenge, name, Path(tmp) / name, warm))
    text = render_references(challenge, rows, (load_before, os.getloadavg()[0]))
    say(text)
    if write is not None:
        write.parent.mkdir(parents=True, exist_ok=True)
        write.write_text(text)
        write.with_suffix(write.suffix + ".json").write_text(json.dumps([asdict(r) for r in rows], indent=1))
        say(f"wrote {write} and {write}.json")
    return 0
