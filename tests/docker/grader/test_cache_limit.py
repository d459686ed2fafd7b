"""`grader grade --cache-max-size`: a batch fits its cache to the size, on a real engine with real images."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from grader import cache
from grader.engine import Engine
from grader.paths import cache_root
from grader.sandbox import images
from tests.conftest import REPO_ROOT
from tests.docker.grader.sandbox.test_images import SIX, _download, base_image  # noqa: F401 (a fixture)


def _tiny_env_image(engine: Engine, base: str, wheels: Path) -> str:
    key = f"test-{uuid.uuid4().hex}"
    images.ensure_python_image(engine, base=base, role="env", key=key, wheels_dir=wheels, requirements=[SIX],
                               log=lambda line: None)
    return key


def _days_ago(path: Path, days: float) -> None:
    stamp = time.time() - days * 86_400
    os.utime(path, (stamp, stamp))


def test_a_batch_removes_this_caches_stale_images_and_keeps_what_it_used_and_others_images(
    docker_client: Any, base_image: str, tmp_path: Path, monkeypatch: Any  # noqa: F811
) -> None:
    monkeypatch.setenv("GRADER_CACHE_DIR", str(tmp_path / "cache"))
    engine = Engine(docker_client)
    wheels = tmp_path / "wheels"
    _download(SIX, wheels)
    stale, theirs = _tiny_env_image(engine, base_image, wheels), _tiny_env_image(engine, base_image, wheels)
    try:
        cache.mark_image_used(stale)  # this cache used it three days ago; `theirs` only another cache used
        _days_ago(cache_root() / "usage" / f"image-{stale}", 3)
        # Two days old and 4 GiB as sizes go (sparse: no disk used): over the 3 GiB alone, so the fit must take
        # it and the stale image, and nothing the grading used (which fits many times over).
        bulky = cache_root() / "worker-results" / "k-bulky"
        bulky.mkdir(parents=True)
        with (bulky / "result.json").open("wb") as sparse:
            sparse.truncate(4 * 2**30)
        _days_ago(bulky, 2)
        done = subprocess.run(
            [sys.executable, "-m", "grader", "grade", str(REPO_ROOT / "challenges/hello-api/solutions/fastapi-ref"),
             "--challenge", "hello-api", "--sandbox", "docker", "--format", "json", "--out", str(tmp_path / "out"),
             "--cache-max-size", "3GiB"],
            capture_output=True, text=True, env=os.environ.copy(), check=False, timeout=900,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        assert "cache: removed 2 least recently used entries" in done.stderr, done.stderr[-3000:]
        assert not images.image_exists(engine, f"grader-env:{stale[:20]}"), "the stale image is still there"
        assert not bulky.exists()
        assert images.image_exists(engine, f"grader-env:{theirs[:20]}"), "another cache's image was removed"
        # What the grading used stays: its environment and the runner, both marked used (the runner was not,
        # so `grader cache prune` took a runner image used every day for one unused for 30 days).
        marks = {path.name for path in (cache_root() / "usage").iterdir()}
        used = [image for image in images.EngineImages(engine).records() if f"image-{image.key}" in marks]
        assert sorted(image.role or "" for image in used) == ["env", "runner"], used
    finally:
        images.remove_images(engine, ("env",), keys={stale, theirs})
