"""The project's folder inside a submission: the top level, a monorepo's subfolder, or the author's choice."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.intake import IntakeError
from grader.project import find_project_root
from tests.conftest import REPO_ROOT


def touch(root: Path, *names: str) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x = 1\n" if name.endswith(".py") else "")


def test_the_monorepo_fixture_is_graded_from_backend() -> None:
    root = find_project_root(REPO_ROOT / "tests" / "fixtures" / "submissions" / "monorepo")
    assert (root.rel, root.source) == ("backend", "found in a subfolder")
    assert "backend/" in root.findings[0].message


def test_a_project_at_the_top_stays_there(tmp_path: Path) -> None:
    touch(tmp_path, "main.py", "backend/requirements.txt")
    assert find_project_root(tmp_path).rel == "."


def test_several_candidates_prefer_conventional_names_and_say_so(tmp_path: Path) -> None:
    touch(tmp_path, "README.md", "tools/requirements.txt", "backend/pyproject.toml", "frontend/requirements.txt",
          "services/deep/requirements.txt")
    root = find_project_root(tmp_path)
    assert root.rel == "backend"
    assert "also found: tools" in root.findings[0].message and "--root" in root.findings[0].message


def test_the_author_and_the_command_line_decide_first(tmp_path: Path) -> None:
    touch(tmp_path, "backend/requirements.txt", "api/requirements.txt")
    (tmp_path / "pyproject.toml").write_text('[tool.grader]\nroot = "api"\n')
    assert (find_project_root(tmp_path).rel, find_project_root(tmp_path).source) == ("api", "[tool.grader] root")
    assert find_project_root(tmp_path, "backend").rel == "backend"


@pytest.mark.parametrize("bad", ["../elsewhere", "/etc", "missing"])
def test_a_root_outside_or_missing_is_refused_in_one_sentence(tmp_path: Path, bad: str) -> None:
    touch(tmp_path, "backend/requirements.txt")
    with pytest.raises(IntakeError, match="project root"):
        find_project_root(tmp_path, bad)
