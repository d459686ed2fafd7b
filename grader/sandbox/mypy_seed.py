"""A warm mypy cache of the standard library's stubs, built once per runner image (host side).

`checks.typecheck` treats third-party packages as `Any` (`--no-site-packages`), so there is no
third-party analysis to cache: what a cold run spends its time on is typeshed's standard library.
`ensure_mypy_seed` runs `checks.mypy_seed` once in the runner image (no network, no candidate code,
the usual locked-down options) and keeps its cache under `cache_dir("mypy")/<key>`; the Docker backend
mounts it read-only into the tool container, where the check copies it into its private cache dir.
The key covers the runner image and the check's own code and configuration, so a change to either
builds a new seed. Any failure here only means the check runs cold.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Any

from grader.cache import remove_tree, touch
from grader.filelocks import file_lock
from grader.paths import cache_dir, checks_dir

Log = Callable[[str], None]
SEED_MOUNT = "/grader/mypy-seed"
COMPLETE = ".complete"
WARM_TIMEOUT_S = 300


def seed_key(runner_image_id: str) -> str:
    """Hash of the runner image and of the typecheck check's code and configuration."""
    digest = hashlib.sha256(runner_image_id.encode())
    for name in ("typecheck.py", "mypy_seed.py", "config/mypy.ini"):
        digest.update((checks_dir() / name).read_bytes())
    return digest.hexdigest()[:32]


def ensure_mypy_seed(client: Any, runner_tag: str, runner_id: str, options: dict[str, Any], log: Log) -> Path | None:
    """The seed directory for this runner image (built on first use), or None if it could not be made.

    `options` are the locked-down container options (labels, user, read-only root) of the caller.
    """
    key = seed_key(runner_id)
    dest = cache_dir("mypy") / key
    if (dest / COMPLETE).exists():
        touch(dest)
        return dest
    with file_lock(f"mypy-{key}"):
        if (dest / COMPLETE).exists():
            return dest
        log(f"warming the mypy cache for {runner_tag} (once per runner image)")
        try:
            _build(client, runner_tag, options, dest)
        except Exception as exc:  # an optimisation only: never fail a grading for it
            log(f"the mypy cache could not be warmed ({exc}); typecheck runs cold")
            return None
    return dest


def _build(client: Any, runner_tag: str, options: dict[str, Any], dest: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="mypy-seed-", dir=cache_dir("runs")) as scratch:
        out = Path(scratch) / "out"
        out.mkdir()
        out.chmod(0o777)
        container = client.containers.run(
            runner_tag, ["python", "-m", "checks.mypy_seed", "/grader/out"],
            network_mode="none", environment={"PYTHONPATH": "/grader/lib", "HOME": "/tmp"}, working_dir="/tmp",
            volumes={str(checks_dir()): {"bind": "/grader/lib/checks", "mode": "ro"},
                     str(out): {"bind": "/grader/out", "mode": "rw"}},
            tmpfs={"/tmp": "size=128m,uid=10001,gid=10001,mode=1777"},
            mem_limit="1g", pids_limit=64, nano_cpus=1_000_000_000, **options,
        )
        try:
            status = container.wait(timeout=WARM_TIMEOUT_S)
        finally:
            with suppress(Exception):
                container.remove(force=True, v=True)
        if status.get("StatusCode") != 0 or not (out / "cache").is_dir():
            raise RuntimeError(f"checks.mypy_seed exited with {status.get('StatusCode')}")
        staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}-", dir=dest.parent))
        shutil.copytree(out / "cache", staging / "cache")
        (staging / COMPLETE).touch()
        staging.chmod(0o755)  # mkdtemp made it private; the sandbox user reads it through a read-only mount
        if dest.exists():
            remove_tree(dest)
        staging.rename(dest)
