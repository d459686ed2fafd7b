"""Warm a mypy cache for the typecheck check: `python -m checks.mypy_seed OUT_DIR`.

`checks.typecheck` runs mypy with `--no-site-packages`, so the only third-party-free code mypy reads
besides the candidate's is the standard library's stubs (typeshed). Analysing them is most of a cold
run (about 0.5 s of 0.6 s on a small app). This module type-checks a file that imports the standard
library modules web apps use, with exactly the check's configuration and flags, and leaves the cache in
`OUT_DIR/cache`. The host runs it once per runner image, in the runner image, with no candidate code;
later typecheck runs copy it (read-only mount, `GRADER_MYPY_SEED`) into their private cache directory.
A module the seed does not cover is simply analysed cold.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from checks._common import python_tool
from checks.typecheck import CONFIG, MYPY_FLAGS, _mypy_env

TIMEOUT_S = 300.0
WARM_MODULES = (
    "abc", "argparse", "asyncio", "base64", "collections", "collections.abc", "concurrent.futures",
    "configparser", "contextlib", "contextvars", "copy", "csv", "dataclasses", "datetime", "decimal", "email",
    "enum", "functools", "glob", "gzip", "hashlib", "hmac", "html", "http", "http.client", "http.cookies",
    "http.server", "importlib", "inspect", "io", "ipaddress", "itertools", "json", "logging",
    "logging.config", "logging.handlers", "math", "mimetypes", "operator", "os", "pathlib", "pickle",
    "platform", "pprint", "queue", "random", "re", "secrets", "shutil", "signal", "socket", "sqlite3",
    "ssl", "statistics", "string", "struct", "subprocess", "sys", "tempfile", "textwrap", "threading",
    "time", "traceback", "types", "typing", "typing_extensions", "unittest", "unittest.mock",
    "urllib.parse", "urllib.request", "uuid", "warnings", "weakref", "wsgiref.simple_server", "zipfile",
    "zoneinfo",
)


def warm(out_dir: Path) -> int:
    """Type-check the warm-up file into `out_dir/cache`; 0 when mypy ran (with or without errors)."""
    with tempfile.TemporaryDirectory(prefix="grader-mypy-seed-") as tmp:
        root = Path(tmp)
        (root / "grader_seed.py").write_text("".join(f"import {name}\n" for name in WARM_MODULES))
        args = ["--config-file", str(CONFIG), *MYPY_FLAGS, "--cache-dir", str(out_dir / "cache"), "grader_seed.py"]
        result = python_tool("mypy", args, root, TIMEOUT_S, _mypy_env())
    if result.timed_out or result.returncode not in (0, 1):
        sys.stderr.write(f"mypy could not warm the cache (exit {result.returncode}): {result.stderr[-500:]}\n")
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        sys.stderr.write("usage: python -m checks.mypy_seed OUT_DIR\n")
        return 2
    return warm(Path(args[0]))


if __name__ == "__main__":
    sys.exit(main())
