"""The test layout's rule (tests/conftest.py): every test in a group folder, nothing slow or heavy in tests/unit.

Collection applies it to the real tree; here it is applied to paths that break it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import ARTIFACTS_ENV, REPO_ROOT, TESTS_DIR, artifacts_dir, misplaced


@pytest.mark.parametrize(("where", "markers", "fixtures", "advice"), [
    ("checks/test_new.py", (), (), "is in no test group: move it under tests/<unit|network|docker|browser|"),
    ("test_new.py", (), (), "is in no test group"),
    ("unit/grader/test_new.py", ("docker", "slow"), (), "move it under tests/docker/"),
    ("unit/grader/test_new.py", (), ("tmp_path", "docker_client"), "move it under tests/docker/"),
    ("unit/grader/report/test_new.py", (), ("chromium",), "move it under tests/browser/"),
    ("unit/grader/sandbox/test_new.py", ("slow",), ("local_postgres",), "move it under tests/network/"),
    ("unit/test_new.py", ("slow",), (), "move it under tests/network/"),
])
def test_a_misplaced_test_is_named_with_the_group_it_belongs_in(
    where: str, markers: tuple[str, ...], fixtures: tuple[str, ...], advice: str,
) -> None:
    problem = misplaced(TESTS_DIR / where, markers, fixtures)
    assert problem is not None and problem.startswith(f"tests/{where} ") and advice in problem


@pytest.mark.parametrize(("where", "markers", "fixtures"), [
    ("unit/grader/test_new.py", (), ("tmp_path", "monkeypatch")),
    ("network/grader/test_new.py", ("slow",), ("local_postgres", "local_redis")),
    ("docker/grader/sandbox/test_new.py", ("docker",), ("docker_client",)),
    ("browser/test_new.py", (), ("chromium", "graded_dir")),
    ("adversarial/test_new.py", ("docker", "slow"), ("docker_client",)),
])
def test_a_test_in_the_group_of_its_needs_is_in_place(
    where: str, markers: tuple[str, ...], fixtures: tuple[str, ...],
) -> None:
    assert misplaced(TESTS_DIR / where, markers, fixtures) is None


def test_browser_artifacts_outlive_the_run_in_an_ignored_folder_of_the_checkout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Screenshots and PDFs of the browser tests are the evidence a reviewer opens after CI: they go to one
    known folder of the checkout (not pytest's temp directory, rotated after three runs), which git ignores."""
    monkeypatch.delenv(ARTIFACTS_ENV, raising=False)
    default = artifacts_dir()
    assert default == REPO_ROOT / "test-artifacts"
    ignored = (REPO_ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert "/test-artifacts/" in ignored, "test-artifacts/ must be listed in .gitignore"
    monkeypatch.setenv(ARTIFACTS_ENV, "/somewhere/else")
    assert artifacts_dir() == Path("/somewhere/else")
