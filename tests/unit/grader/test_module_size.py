"""No host module is over 600 lines: a module that grows past it is split along its sections into a package
(as `grader.intake`, `grader.deps`, `grader.report`, `grader.bulk` and `grader.cli` were)."""

from __future__ import annotations

from tests.conftest import REPO_ROOT

MAX_LINES = 600
GRADER_DIR = REPO_ROOT / "grader"


def line_counts() -> dict[str, int]:
    return {str(path.relative_to(REPO_ROOT)): len(path.read_text(encoding="utf-8").splitlines())
            for path in sorted(GRADER_DIR.rglob("*.py"))}


def test_no_host_module_is_over_600_lines() -> None:
    too_long = {name: lines for name, lines in line_counts().items() if lines > MAX_LINES}
    assert too_long == {}, f"split these along their sections (at most {MAX_LINES} lines a module)"
