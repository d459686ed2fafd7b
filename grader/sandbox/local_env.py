"""What a process of the local backend sees: a clean environment, a free port, private temporary dirs."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import sys
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

ESSENTIAL_ENV = ("LANG", "LC_ALL", "TZ")


def essential_env() -> dict[str, str]:
    """Nothing of the grader's environment but locale, time zone and a PATH without the grader's venv."""
    env = {name: os.environ[name] for name in ESSENTIAL_ENV if os.environ.get(name)}
    env.setdefault("LANG", "C.UTF-8")
    env["PATH"] = system_path()
    return env


def system_path() -> str:
    """This machine's PATH without the grader's own venv (so the app cannot pick up the grader's tools)."""
    own_bins = {str(Path(sys.prefix) / "bin")} if sys.prefix != sys.base_prefix else set()
    if os.environ.get("VIRTUAL_ENV"):
        own_bins.add(str(Path(os.environ["VIRTUAL_ENV"]) / "bin"))
    entries = os.environ.get("PATH", os.defpath).split(os.pathsep)
    return os.pathsep.join(entry for entry in entries if entry and entry not in own_bins) or os.defpath


def app_environment(venv: Path, data_dir: Path, port: int, extra: Mapping[str, str]) -> dict[str, str]:
    """The app's whole environment; `{data_dir}` and `{port}` in `extra`'s values are filled in."""
    env = essential_env()
    env.update(
        PATH=f"{venv / 'bin'}{os.pathsep}{env['PATH']}",
        VIRTUAL_ENV=str(venv),
        HOME=str(data_dir),
        PORT=str(port),
        DATA_DIR=str(data_dir),
        DATABASE_URL=f"sqlite:///{data_dir / 'app.db'}",  # absolute path: four slashes
        PYTHONDONTWRITEBYTECODE="1",
        PYTHONUNBUFFERED="1",
    )
    for name, value in extra.items():
        env[name] = value.replace("{data_dir}", str(data_dir)).replace("{port}", str(port))
    return env


def free_port() -> int:
    """A port on 127.0.0.1 that was free a moment ago (the plan's port could clash on a shared host)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.contextmanager
def temp_dir(prefix: str) -> Iterator[Path]:
    """A private temporary directory for the block, removed afterwards whatever the app left in it."""
    path = Path(tempfile.mkdtemp(prefix=prefix)).resolve()
    try:
        yield path
    finally:
        remove_tree(path)


def remove_tree(path: Path) -> None:
    """Remove `path`, also when the app left read-only directories in it."""
    if not path.exists():
        return
    shutil.rmtree(path, ignore_errors=True)
    if path.exists():
        for root, dirs, _files in os.walk(path):
            for name in dirs:
                with contextlib.suppress(OSError):
                    os.chmod(os.path.join(root, name), 0o700)
        shutil.rmtree(path, ignore_errors=True)
