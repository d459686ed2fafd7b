"""Time the steps of one environment image build (issue 20): `python -m benchmarks.envbuild WHEELSET [--repeat N]`;
`--installers pip,uv` builds the set with each installer in turn and prints the totals.

Builds `grader-env` images for the wheel set's pins under throwaway keys (so every build is cold), stamps each
line of the engine's build stream with the time it arrived, prints the seconds each Dockerfile step took (the
first "step" is the context upload: from the call to the first line), and removes the images it built.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

from grader.engine import connect
from grader.sandbox.images import environment


def _pins(wheels_dir: Path) -> list[str]:
    pins = []
    for wheel in sorted(wheels_dir.glob("*.whl")):
        name, version = wheel.name.split("-")[:2]
        pins.append(f"{name}=={version}")
    return pins


def one_build(wheels_dir: Path, base: str) -> dict[str, float]:
    """One cold build: seconds per step (upload, each Dockerfile step, install-stage removal, total)."""
    engine = connect()
    key = f"bench{uuid.uuid4().hex}"
    marks: list[tuple[float, str]] = []
    started = time.monotonic()

    def log(line: str) -> None:
        marks.append((time.monotonic(), line))

    class _Stamps(logging.Handler):  # "T <what>" lines the variant's RUN prints split a step
        def emit(self, record: logging.LogRecord) -> None:
            if record.getMessage().startswith("T "):
                log(record.getMessage())

    handler = _Stamps()
    building = logging.getLogger("grader.sandbox.images.building")
    building.addHandler(handler)
    building.setLevel(logging.DEBUG)
    ref = environment.ensure_python_image(engine, base=base, role="env", key=key, wheels_dir=wheels_dir,
                                          requirements=_pins(wheels_dir), log=log)
    ended = time.monotonic()
    building.removeHandler(handler)
    steps: dict[str, float] = {}
    previous, label = started, "upload"
    for stamp, line in marks:
        if line.startswith(("Step ", "building ", "built ", "T ")):
            steps[label] = steps.get(label, 0.0) + stamp - previous
            previous, label = stamp, (line[:7] if line.startswith("T ") else line[:60])
    steps[label] = steps.get(label, 0.0) + ended - previous
    steps["total"] = ended - started
    engine.remove_image(ref.tag)
    return steps


def forced_installer(name: str) -> environment.Installer:
    """The installer `name` ("uv" or "pip") as the grader would run it on this engine."""
    if name == "pip":
        return environment.Installer("pip", environment.PIP_INSTALL_SCRIPT, None)
    chosen = environment.choose_installer(connect())
    if chosen.name != "uv":
        raise SystemExit("the grader's uv cannot run in this engine's containers (another OS or architecture)")
    return chosen


def compare_installers(wheels_dir: Path, base: str, names: list[str], repeat: int) -> None:
    """Build the same wheel set with each installer in turn, `repeat` rounds, and print each total."""
    totals: dict[str, list[float]] = {name: [] for name in names}
    installers = {name: forced_installer(name) for name in names}  # before the grader's choice is replaced
    chooser = environment.choose_installer
    try:
        for _ in range(repeat):
            for name in names:
                installer = installers[name]
                environment.choose_installer = lambda engine, chosen=installer: chosen  # type: ignore[misc]
                load = os.getloadavg()[0]
                totals[name].append(one_build(wheels_dir, base)["total"])
                print(f"load {load:.1f}: {name} {totals[name][-1]:.2f} s", file=sys.stderr)
    finally:
        environment.choose_installer = chooser
    for name, values in totals.items():
        each = ", ".join(f"{value:.1f}" for value in values)
        print(f"{name}: {each} (median {statistics.median(values):.1f} s)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("wheelset", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--base", default="grader-base:py3.11")
    parser.add_argument("--installers", help="compare installers in turn, e.g. pip,uv (the whole build each)")
    args = parser.parse_args()
    if args.installers:
        compare_installers(args.wheelset, args.base, args.installers.split(","), args.repeat)
        return
    runs = []
    for _ in range(args.repeat):
        load = os.getloadavg()[0]
        steps = one_build(args.wheelset, args.base)
        runs.append(steps)
        print(f"load {load:.1f}: " + ", ".join(f"{k.split(' : ')[-1][:40]!r}={v:.2f}" for k, v in steps.items()),
              file=sys.stderr)
    print("median per step:")
    for label in runs[0]:
        values = [run.get(label, 0.0) for run in runs]
        print(f"  {statistics.median(values):6.2f}  {label}")


if __name__ == "__main__":
    main()
