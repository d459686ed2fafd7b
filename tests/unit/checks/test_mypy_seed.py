"""The warm standard-library mypy cache saves time and changes nothing in the typecheck report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from checks.typecheck import SEED_ENV
from tests.conftest import REPO_ROOT

FLAWED = REPO_ROOT / "challenges" / "hello-api" / "solutions" / "fastapi-flawed"


def typecheck(out: Path, seed: Path | None) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if k != SEED_ENV}
    if seed is not None:
        env[SEED_ENV] = str(seed)
    out.mkdir()
    subprocess.run([sys.executable, "-m", "checks.typecheck", "--submission", str(FLAWED), "--out", str(out)],
                   check=True, env=env, timeout=300, cwd=REPO_ROOT)
    report: dict[str, object] = json.loads((out / "typecheck.json").read_text())
    return {key: report[key] for key in ("metrics", "findings")}


def test_seeded_typecheck_gives_the_same_report(tmp_path: Path) -> None:
    seed = tmp_path / "seed"
    subprocess.run([sys.executable, "-m", "checks.mypy_seed", str(seed)], check=True, timeout=300, cwd=REPO_ROOT)
    assert any((seed / "cache").rglob("*")), "the seed holds a mypy cache"
    cold = typecheck(tmp_path / "cold", None)
    warm = typecheck(tmp_path / "warm", seed)
    assert warm == cold
    assert cold["metrics"]["errors"] > 0  # type: ignore[index]


def test_a_missing_seed_only_means_a_cold_run(tmp_path: Path) -> None:
    assert typecheck(tmp_path / "a", tmp_path / "no-such-seed") == typecheck(tmp_path / "b", None)
