"""Where the grader keeps its caches and finds the files it ships (challenges, checks, reports)."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def cache_root() -> Path:
    """The grader's cache: `$GRADER_CACHE_DIR`, else `$XDG_CACHE_HOME/grader`, else `~/.cache/grader`."""
    explicit = os.environ.get("GRADER_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "grader"


def cache_dir(name: str) -> Path:
    """A named sub-cache (`wheels`, `venvs`, `snapshots`, ...), created on first use."""
    path = cache_root() / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def resource_dir(name: str) -> Path:
    """A shipped data directory: inside the installed wheel (`grader/_data/NAME`) or the checkout."""
    for candidate in (PACKAGE_DIR / "_data" / name, PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"grader data directory {name!r} is missing from this installation")


def checks_dir() -> Path:
    """The directory holding the `checks` package, mounted read-only into runner containers."""
    import checks

    return Path(checks.__file__).resolve().parent
