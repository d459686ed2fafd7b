"""Fingerprints made at intake (grader/steps/intake.py), stored by content in the store and kept beside the
result (grader/pipeline.py), where `grader similarity` finds them."""

from __future__ import annotations

from pathlib import Path

from grader.challenge import load_challenge
from grader.paths import cache_dir
from grader.pipeline import _keep_fingerprints
from grader.sandbox.local import LocalSandbox
from grader.similarity.store import FINGERPRINTS_FILE, compute_prints, read_prints
from grader.steps.intake import read_project, take
from grader.steps.records import GradingRequest, hidden_suite
from tests.unit.grader.similarity.test_compare import FIXTURES

CHALLENGE = load_challenge("hello-api")


def test_intake_fingerprints_the_snapshot_and_the_result_keeps_them(tmp_path: Path) -> None:
    request = GradingRequest(source=FIXTURES / "original", challenge=CHALLENGE, sandbox=LocalSandbox(),
                             out_root=tmp_path, suite=hidden_suite(CHALLENGE), log=lambda _: None)
    taken = take(request)
    settings = CHALLENGE.similarity
    assert taken.fingerprints == compute_prints(FIXTURES / "original", settings.k, settings.window)
    key = taken.snapshot.content_hash.removeprefix("sha256:")[:32]
    assert list(cache_dir("fingerprints").glob(f"{key}-*.json"))  # stored once per content in the store

    _keep_fingerprints(read_project(request, taken), tmp_path / "original")
    assert read_prints(tmp_path / "original") == taken.fingerprints
    assert (tmp_path / "original" / FINGERPRINTS_FILE).is_file()
    assert take(request).fingerprints == taken.fingerprints  # the second intake reads the stored copy
