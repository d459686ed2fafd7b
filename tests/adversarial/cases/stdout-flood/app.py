"""Writes 2 GiB to stdout in a background thread while it serves; /__adversarial__ waits for the end."""

import sys
import threading
import time

from probe_server import serve

TOTAL = 2 * 1024 * 1024 * 1024
LINE = b"x" * 16383 + b"\n"
state: dict[str, object] = {"kind": "flood", "written": 0, "error": None, "done": False}


def flood() -> None:
    block = LINE * 64  # 1 MiB
    out = sys.stdout.buffer
    try:
        while int(state["written"]) < TOTAL:  # type: ignore[call-overload]
            out.write(block)
            state["written"] = int(state["written"]) + len(block)  # type: ignore[call-overload]
        out.flush()
    except OSError as exc:
        state["error"] = f"{type(exc).__name__}: {exc}"
    state["done"] = True


def probe() -> dict[str, object]:
    deadline = time.monotonic() + 25
    while not state["done"] and time.monotonic() < deadline:
        time.sleep(0.2)
    return dict(state)


threading.Thread(target=flood, daemon=True).start()
serve(probe)
