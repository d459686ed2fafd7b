"""Run a list of check commands in the sandbox, each with its own timeout: `python -m checks.run_plan PLAN`.

PLAN is a JSON list of `checks.formats.PlanEntry` (`{"id": ..., "argv": [...], "timeout_s": N}`). For each
entry this writes `<dir of PLAN>/<id>.run.json` (`checks.formats.RunRecord`) with the exit code, whether it
timed out, its duration and the tail of its stderr, so the host can tell "the tool could not run" from "the
candidate failed it". Standard library only.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from checks.formats import PlanEntry, RunRecord, run_record_file

STDERR_TAIL = 2000


def run_entry(entry: PlanEntry, out_dir: Path) -> RunRecord:
    """Run one command in its own process group; kill the whole group on timeout."""
    started = time.monotonic()
    proc = subprocess.Popen(
        [str(arg) for arg in entry["argv"]], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL, start_new_session=True,
    )
    timed_out = False
    try:
        _, stderr = proc.communicate(timeout=float(entry["timeout_s"]))
    except subprocess.TimeoutExpired:
        timed_out = True
        os.killpg(proc.pid, signal.SIGKILL)
        _, stderr = proc.communicate()
    record: RunRecord = {
        "id": entry["id"],
        "exit_code": proc.returncode,
        "timed_out": timed_out,
        "duration_s": round(time.monotonic() - started, 3),
        "stderr_tail": stderr.decode("utf-8", errors="replace")[-STDERR_TAIL:],
    }
    (out_dir / run_record_file(entry["id"])).write_text(json.dumps(record))
    return record


def main(argv: list[str]) -> int:
    plan_path = Path(argv[0])
    entries: list[PlanEntry] = json.loads(plan_path.read_text())
    for entry in entries:
        run_entry(entry, plan_path.parent)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
