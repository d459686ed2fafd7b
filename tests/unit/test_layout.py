"""The test layout's rule (tests/conftest.py): every test in a group folder, nothing slow or heavy in tests/unit.

Collection applies it to the real tree; here it is applied to paths that break it.
"""

from __future__ import annotations

import pytest

from tests.conftest import TESTS_DIR, misplaced


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
