"""The distributed run: `python -m benchmarks.distributed [--copies N]`.

The same cohort graded (1) locally at -j1, (2) through `--broker` with one `grader worker --concurrency 1`
and (3) with two such workers, all on this machine's Docker engine with warm caches; plus the coordinator's
own CPU time per submission (packing, sending, polling, writing results) against the local -j1 wall time
per submission. Prints the figures as a Markdown table for docs/distributed.md. Needs Docker, the base
image and Debian's redis-server; starts and stops its own private redis-server. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from benchmarks.workload import make_cohort

PASSWORD = "benchmark-broker"


def say(message: str) -> None:
    print(message, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def private_redis(scratch: Path) -> Iterator[str]:
    """A redis-server with a password on a free loopback port; yields its URL."""
    port = free_port()
    server = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--requirepass",
                               PASSWORD, "--save", "", "--dir", str(scratch)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        yield f"redis://:{PASSWORD}@127.0.0.1:{port}/0"
    finally:
        server.terminate()
        server.wait()


@contextmanager
def workers(broker: str, count: int, scratch: Path) -> Iterator[None]:
    """`count` workers, each `--concurrency 1` on Docker, sharing this machine's cache (warm)."""
    started = []
    for number in range(count):
        log = scratch / f"worker-{count}-{number}.log"
        handle = log.open("wb")
        argv = [sys.executable, "-m", "grader", "worker", "--broker", broker, "--concurrency", "1",
                "--sandbox", "docker", "--name", f"bench-{count}-{number}@%h"]
        started.append((subprocess.Popen(argv, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True),
                        log))
    try:
        for _process, log in started:
            while "ready." not in log.read_text(errors="replace"):
                time.sleep(0.2)
        yield
    finally:
        for process, _log in started:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait()


def grade(cohort: Path, out: Path, extra: list[str]) -> tuple[float, float]:
    """Wall seconds and the grading command's own CPU seconds (user + system, not its children's)."""
    argv = [sys.executable, "-m", "grader", "-q", "grade", str(cohort), "--challenge", "hello-api", "--out", str(out),
            "--format", "json", "--force", *extra]
    started = time.perf_counter()
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=errors)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        if os.waitstatus_to_exitcode(status) != 0:
            errors.seek(0)
            raise SystemExit(f"grading failed: {' '.join(argv)}\n{errors.read().decode(errors='replace')[-3000:]}")
    return wall, usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=2, help="copies of each of the 3 reference solutions")
    args = parser.parse_args()
    mix = (("fastapi-ref", args.copies), ("flask-ref", args.copies), ("django-ref", args.copies))
    scratch = Path(tempfile.mkdtemp(prefix="grader-bench-dist-"))
    try:
        cohort = scratch / "cohort"
        count = len(make_cohort(cohort, mix))
        say(f"cohort of {count}; warming the caches with a local -j1 grading")
        grade(cohort, scratch / "warm", ["--sandbox", "docker", "-j", "1"])
        local_wall, local_cpu = grade(cohort, scratch / "local", ["--sandbox", "docker", "-j", "1"])
        say(f"local -j1: {local_wall:.1f} s ({local_wall / count:.2f} s per submission)")
        rows = [("local `-j1`", local_wall, local_cpu)]
        with private_redis(scratch) as broker:
            for count_workers in (1, 2):
                with workers(broker, count_workers, scratch):
                    wall, cpu = grade(cohort, scratch / f"remote-{count_workers}", ["--broker", broker])
                say(f"{count_workers} worker(s): {wall:.1f} s; coordinator CPU {cpu:.2f} s")
                rows.append((f"`--broker`, {count_workers} worker(s) x `--concurrency 1`", wall, cpu))
        say("")
        say("| run | wall | per submission | grading command's own CPU | its CPU per submission |")
        say("|---|---|---|---|---|")
        for label, wall, cpu in rows:
            say(f"| {label} | {wall:.1f} s | {wall / count:.2f} s | {cpu:.2f} s | {cpu / count:.3f} s |")
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        say(f"\n{count} submissions; largest child process peak RSS {peak:.0f} MiB")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
