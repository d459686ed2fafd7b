"""benchmarks.cpusplit: where a run's CPU time went, read from the real counters of this machine."""

from __future__ import annotations

import subprocess
import sys

from benchmarks import cpusplit


def test_a_reaped_childs_cpu_is_the_graders_and_counts_in_the_machines_busy_time() -> None:
    before = cpusplit.read_cpu()
    subprocess.run([sys.executable, "-c", "import time\nend = time.process_time() + 0.5\n"
                    "while time.process_time() < end: pass"], check=True)
    spent = cpusplit.split(before, cpusplit.read_cpu())
    assert spent.grader >= 0.45  # the child's own 0.5 s of CPU, whatever the machine's load
    assert spent.busy >= spent.grader * 0.9  # /proc/stat counts in ticks: a little slack
    assert spent.engine >= 0.0


def test_other_is_what_the_three_leave_and_unknown_without_the_containers_counter() -> None:
    spent = cpusplit.CpuSplit(busy=10.0, containers=6.0, engine=1.0, grader=2.0)
    assert spent.other == 1.0
    assert cpusplit.CpuSplit(busy=1.0, containers=2.0, engine=0.0, grader=0.0).other == 0.0
    assert cpusplit.CpuSplit(busy=1.0, containers=None, engine=0.0, grader=0.0).other is None
    before = cpusplit.CpuReading(busy=5.0, containers=None, engine=1.0, children=0.0)
    after = cpusplit.CpuReading(busy=9.0, containers=3.0, engine=1.5, children=1.0)
    assert cpusplit.split(before, after) == cpusplit.CpuSplit(4.0, None, 0.5, 1.0)
