"""The similarity benchmark's generator (benchmarks/similarity.py): its planted copies are real disguised copies,
and the default settings find every one of them and nothing else (docs/performance.md, "Similarity")."""

from __future__ import annotations

import re
from pathlib import Path

from benchmarks.similarity import generate
from grader.models import SimilaritySettings
from grader.similarity.compare import Entry, compare
from grader.similarity.store import compute_prints

DEFAULTS = SimilaritySettings()  # type: ignore[call-arg]


def function_names(folder: Path) -> list[str]:
    """The names of the module-level functions, in order (read as text: a random name may be a keyword)."""
    return [name for path in sorted(folder.glob("*.py"))
            for name in re.findall(r"^def (\w+)\(", path.read_text(), re.MULTILINE)]


def test_planted_copies_are_renamed_and_reordered(tmp_path: Path) -> None:
    planted = generate(tmp_path, 40, seed=11)
    assert len(planted) == 4
    for source, copy in planted:
        original, disguised = function_names(tmp_path / source), function_names(tmp_path / copy)
        assert len(original) == len(disguised) > 10 and not set(original) & set(disguised)
        sizes = [len(path.read_text().splitlines()) for path in sorted((tmp_path / source).glob("*.py"))]
        assert sizes == [len(path.read_text().splitlines()) for path in sorted((tmp_path / copy).glob("*.py"))]


def test_the_defaults_flag_every_planted_copy_and_nothing_else(tmp_path: Path) -> None:
    planted = generate(tmp_path, 40, seed=11)
    entries = [Entry(folder.name, compute_prints(folder, DEFAULTS.k, DEFAULTS.window))
               for folder in sorted(tmp_path.iterdir())]
    flagged = {(pair.a, pair.b) for pair in compare(entries, DEFAULTS).flagged()}
    assert flagged == {tuple(sorted(pair)) for pair in planted}
