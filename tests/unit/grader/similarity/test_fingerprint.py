"""Tokens, k-grams and winnowing (grader/similarity/fingerprint.py) on small sources."""

from __future__ import annotations

from pathlib import Path

from grader.similarity.fingerprint import (
    Fingerprint,
    fingerprint_source,
    fingerprint_tree,
    kgram_hashes,
    normalized_tokens,
    winnow,
)


def test_identifiers_and_literals_are_normalized_and_comments_dropped() -> None:
    first = normalized_tokens("total = price * 3  # the sum\nprint('hi')\n")
    second = normalized_tokens("\n\n# other words\namount   = cost * 99\nlog(\"bye\")\n")
    expected = ["V", "=", "V", "*", "N", ";", "V", "(", "S", ")", ";"]
    assert [t.text for t in first] == [t.text for t in second] == expected
    assert second[0].start_line == 4  # positions are the source's own lines


def test_keywords_and_structure_are_kept() -> None:
    texts = [t.text for t in normalized_tokens("def f(x):\n    return x\n")]
    assert texts == ["def", "V", "(", "V", ")", ":", ";", "{", "return", "V", ";", "}"]


def test_a_syntax_error_keeps_the_tokens_before_it() -> None:
    tokens = normalized_tokens("a = 1\nb = (\n")
    assert [t.text for t in tokens][:4] == ["V", "=", "N", ";"]


def test_winnowing_keeps_the_smallest_hash_of_every_window() -> None:
    grams = [Fingerprint(h, n, n) for n, h in enumerate([77, 74, 42, 17, 98, 50, 17, 98, 8, 88, 67, 39, 77, 74, 42,
                                                          17, 98])]
    kept = winnow(grams, 4)
    # The paper's example (Schleimer et al. 2003, figure 2): 17 17 8 39 17, the rightmost minimum on a tie.
    assert [fp.hash for fp in kept] == [17, 17, 8, 39, 17]
    for start in range(len(grams) - 3):  # every window holds a kept fingerprint: the guarantee
        assert any(fp in kept for fp in grams[start:start + 4])


def test_kgram_positions_span_their_tokens() -> None:
    grams = kgram_hashes(normalized_tokens("a = 1\nb = 2\nc = 3\n"), 5)
    assert (grams[0].start_line, grams[0].end_line) == (1, 2)


def test_same_structure_gives_the_same_fingerprints() -> None:
    source = "def area(w, h):\n    if w < 0:\n        raise ValueError('w')\n    return w * h\n" * 3
    renamed = source.replace("area", "size").replace("w", "width").replace("'w'", "'bad'")
    same = [fp.hash for fp in fingerprint_source(renamed, 10, 4)]
    assert [fp.hash for fp in fingerprint_source(source, 10, 4)] == same


def test_tree_skips_virtualenvs_and_reads_python_only(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("x = compute(1, 2, 3)\nprint(x, x, x)\n" * 5)
    (tmp_path / ".venv" / "lib").mkdir(parents=True)
    (tmp_path / ".venv" / "lib" / "dep.py").write_text("y = 1\n" * 50)
    (tmp_path / "notes.txt").write_text("x = 1\n" * 50)
    assert list(fingerprint_tree(tmp_path, 5, 4)) == ["app.py"]
