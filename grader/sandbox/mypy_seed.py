"""A warm mypy cache of the standard library's stubs, built once per runner image (host side).

`checks.typecheck` treats third-party packages as `Any` (`--no-site-packages`), so there is no
third-party analysis to cache: what a cold run spends its time on is typeshed's standard library.
`ensure_mypy_seed` runs `checks.mypy_seed` once in the runner image (no network, no candidate code,
the usual locked-down options) and keeps its cache in the store (`grader.cache.mypy_seed_dir`); the Docker
backend mounts it read-only into the tool container, where the check copies it into its private cache dir.
The key covers the runner image and the check's own code and configuration, so a change to either
builds a new seed. Any failure here only means the check runs cold.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path

from grader import cache
from grader.engine import ContainerSpec, Mount
from grader.paths import checks_dir
from grader.sandbox.docker_pod import SANDBOX_TMPFS, Launcher

SEED_MOUNT = "/grader/mypy-seed"
COMPLETE = ".complete"
WARM_TIMEOUT_S = 300


def seed_key(runner_image_id: str) -> str:
    """Hash of the runner image and of the typecheck check's code and configuration."""
    digest = hashlib.sha256(runner_image_id.encode())
    for name in ("typecheck.py", "mypy_seed.py", "config/mypy.ini"):
        digest.update((checks_dir() / name).read_bytes())
    return digest.hexdigest()[:32]


def ensure_mypy_seed(launcher: Launcher, runner_tag: str, runner_id: str) -> Path | None:
    """The seed directory for this runner image (built on first use), or None if it could not be made.

    `launcher` starts the warming container with the caller's labels (and the engine's hardening).
    """
    key = seed_key(runner_id)
    dest = cache.mypy_seed_dir(key)
    if (dest / COMPLETE).exists():
        cache.touch(dest)
        return dest
    with cache.entry_lock("mypy", key):
        if (dest / COMPLETE).exists():
            return dest
        launcher.log(f"warming the mypy cache for {runner_tag} (once per runner image)")
        try:
            _build(launcher, runner_tag, dest)
        except Exception as exc:  # an optimisation only: never fail a grading for it
            launcher.log(f"the mypy cache could not be warmed ({exc}); typecheck runs cold")
            return None
    return dest


def _build(launcher: Launcher, runner_tag: str, dest: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="mypy-seed-", dir=cache.scratch_dir()) as scratch:
        out = Path(scratch) / "out"
        out.mkdir()
        out.chmod(0o777)
        container = launcher.start("mypy-seed", ContainerSpec(
            runner_tag, ["python", "-m", "checks.mypy_seed", "/grader/out"],
            environment={"PYTHONPATH": "/grader/lib", "HOME": "/tmp"}, working_dir="/tmp",
            mounts=(Mount(str(checks_dir()), "/grader/lib/checks"), Mount(str(out), "/grader/out", writable=True)),
            tmpfs={"/tmp": f"size=128m,{SANDBOX_TMPFS}"},
            memory_mb=1024, pids=64, cpus=1.0,
        ))
        try:
            code = container.wait(WARM_TIMEOUT_S)
        finally:
            container.discard()
        if code != 0 or not (out / "cache").is_dir():
            raise RuntimeError(f"checks.mypy_seed exited with {code}")
        staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}-", dir=dest.parent))
        shutil.copytree(out / "cache", staging / "cache")
        (staging / COMPLETE).touch()
        staging.chmod(0o755)  # mkdtemp made it private; the sandbox user reads it through a read-only mount
        if dest.exists():
            cache.remove_tree(dest)
        staging.rename(dest)
