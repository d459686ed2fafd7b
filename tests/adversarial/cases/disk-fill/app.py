"""Fills its data dir and /tmp until the sandbox says no (bounded at 64 MiB each), then serves."""

import errno
import os

from probe_server import serve

CHUNK = b"\0" * (1024 * 1024)
BOUND = 64


def fill(directory: str) -> dict[str, object]:
    written, error = 0, None
    try:
        for index in range(BOUND):
            with open(os.path.join(directory, f"fill-{index}.bin"), "wb") as handle:
                handle.write(CHUNK)
            written += len(CHUNK)
    except OSError as exc:
        error = errno.errorcode.get(exc.errno or 0, str(exc))
        print(f"filling {directory} stopped: {exc}", flush=True)
    return {"written": written, "error": error}


def try_write(path: str) -> str:
    try:
        with open(path, "wb") as handle:
            handle.write(b"x")
        return "written"
    except OSError as exc:
        return errno.errorcode.get(exc.errno or 0, str(exc))


observed = {
    "kind": "disk",
    "data": fill(os.environ["DATA_DIR"]),
    "tmp": fill("/tmp"),
    "app": try_write("/app/fill.bin"),
    "root": try_write("/fill.bin"),
}
serve(lambda: observed)
