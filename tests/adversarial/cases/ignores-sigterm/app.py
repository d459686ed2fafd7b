"""Ignores SIGTERM, and leaves a grandchild in its own session that ignores it too (a daemon)."""

import os
import signal

from probe_server import serve

MARK = "@@RUN_MARK@@"  # replaced at test time: `sleep <MARK>` is how the test finds a survivor

signal.signal(signal.SIGTERM, signal.SIG_IGN)  # ignored dispositions survive fork and exec
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execvp("sleep", ["sleep", MARK])
    os._exit(0)
print(f"a daemon `sleep {MARK}` was left in its own session", flush=True)
serve()
