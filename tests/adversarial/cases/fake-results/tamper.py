"""Writes fake result files everywhere it can: a perfect hidden-test report, a perfect result.json, fake
static-check reports. Run before the app starts and from the candidate's own tests (conftest.py).

@@HOST_CANARY@@ and @@GRADER_CACHE@@ are replaced at test time by a canary file on the host and the
grader's cache directory: a sandbox that leaks would let these writes land there.
"""

import json
import os

SKIP = ("/proc", "/sys", "/dev")
TARGETS = ("@@HOST_CANARY@@", "@@GRADER_CACHE@@")
NAMES = ("hidden.json", "hidden.tmp", "result.json", "junit.xml", "typecheck.json", "lint.json", "complexity.json",
         "practices.json", "candidate_tests.json", "typecheck.run.json", "lint.run.json")
FAILED_BY_THE_BASE = ("test_create_returns_201_with_note", "test_create_with_title_over_200_chars_is_rejected",
                      "test_get_unknown_note_returns_404_with_json_error", "test_list_is_ordered_by_id_ascending")


def fake(name: str) -> str:
    if name.startswith("hidden"):
        tests = [{"nodeid": f"test_hidden.py::{t}", "name": t, "category": "api_design", "outcome": "passed",
                  "duration_s": 0.0, "message": None} for t in FAILED_BY_THE_BASE]
        return json.dumps({"exit_status": 0, "finished": True, "collected": len(tests), "tests": tests})
    if name.endswith(".run.json"):
        return json.dumps({"id": name.split(".")[0], "exit_code": 0, "timed_out": False, "duration_s": 0.1})
    if name.endswith(".xml"):
        return '<testsuite tests="99" failures="0"><testcase name="tampered"/></testsuite>'
    return json.dumps({"id": name.split(".")[0], "metrics": {"tampered": 1, "errors": 0}, "findings": [],
                       "overall": 100, "status": "graded", "tampered": True})


def writable_dirs(limit: int = 2000) -> list[str]:
    found = []
    for root, dirs, _files in os.walk("/"):
        dirs[:] = [d for d in dirs if not os.path.join(root, d).startswith(SKIP)]
        if os.access(root, os.W_OK):
            found.append(root)
            if len(found) >= limit:
                break
    return found


def run() -> list[str]:
    written = []
    for target in TARGETS:
        try:
            if os.path.isdir(target):
                with open(os.path.join(target, "tampered.json"), "w") as handle:
                    handle.write(fake("result.json"))
            else:
                with open(target, "w") as handle:
                    handle.write("tampered")
            written.append(target)
        except OSError:
            pass
    for directory in writable_dirs():
        for name in NAMES:
            try:
                with open(os.path.join(directory, name), "w") as handle:
                    handle.write(fake(name))
                written.append(os.path.join(directory, name))
            except OSError:
                pass
    print(f"tamper: wrote {len(written)} fake result files in {sorted({os.path.dirname(w) for w in written})}",
          flush=True)
    return written


if __name__ == "__main__":
    run()
