"""The similarity views for reviewers: a side-by-side page per flagged pair (`OUT/similarity/pair-NNN.html`),
the cohort page's section and the "similar to" links of a candidate report, from `OUT/similarity.json`.

Never for the candidate audience: these pages show one candidate another's name and code.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.outdir import write_atomically
from grader.similarity.cohort import PAGES_DIR, pair_page
from grader.similarity.compare import Comparison, Pair

MAX_LINES = 1500  # per file on a pair page: enough for any hand-written module, a bound for a generated one
TOP_PAIRS = 20  # flagged pairs listed on the cohort page; the rest are in similarity.json


@dataclass(frozen=True)
class Line:
    """One source line on a pair page, and whether it is in a matched region."""

    number: int
    text: str
    matched: bool


@dataclass(frozen=True)
class FileView:
    """One file of one side with its matched regions, or why its text cannot be shown."""

    path: str
    ranges: list[tuple[int, int]]
    lines: list[Line]
    missing: str | None = None


def write_similarity_pages(out_dir: Path, comparison: Comparison) -> list[Path]:
    """Write a side-by-side page for every flagged pair; returns the paths written."""
    from grader.report.render import environment

    template = environment().get_template("similarity_pair.html")
    for stale in (out_dir / PAGES_DIR).glob("pair-*.html"):  # an earlier comparison's: its numbers mean other pairs
        stale.unlink()
    written = []
    for number, pair in enumerate(comparison.pairs):
        if pair.flagged:
            context = pair_context(pair, comparison)
            written.append(write_atomically(out_dir / pair_page(number), template.render(context)))
    return written


def pair_context(pair: Pair, comparison: Comparison) -> dict[str, Any]:
    """What `similarity_pair.html` shows: both sides' matched files, matched lines marked."""
    return {
        "pair": pair,
        "threshold": comparison.settings.threshold,
        "left": [file_view(comparison.roots.get(pair.a), path, ranges) for path, ranges in pair.matches_a.items()],
        "right": [file_view(comparison.roots.get(pair.b), path, ranges) for path, ranges in pair.matches_b.items()],
    }


def file_view(root: Path | None, path: str, ranges: list[tuple[int, int]]) -> FileView:
    """A file's lines with its matched ranges marked; read as text, never leaving `root`."""
    if root is None:
        return FileView(path, ranges, [], "its source is no longer in the grader's store")
    source = (root / path).resolve()
    if not source.is_relative_to(root.resolve()) or not source.is_file():
        return FileView(path, ranges, [], "its source cannot be read")
    text = source.read_text(encoding="utf-8", errors="replace").splitlines()[:MAX_LINES]
    return FileView(path, ranges, [Line(number, line, _inside(number, ranges))
                                   for number, line in enumerate(text, start=1)])


def _inside(number: int, ranges: list[tuple[int, int]]) -> bool:
    return any(start <= number <= end for start, end in ranges)


def cohort_section(similarity: dict[str, Any] | None, names: set[str]) -> dict[str, Any] | None:
    """The cohort page's section from similarity.json: top flagged pairs (linked to their pages) and clusters.

    `names` are the submissions on the page; pairs of others (an older similarity.json) are left out.
    """
    if similarity is None:
        return None
    flagged = [pair for pair in similarity.get("pairs", []) if pair.get("flagged") and pair.get("a") in names]
    return {
        "threshold": similarity.get("settings", {}).get("threshold"),
        "compared": len(similarity.get("submissions", [])),
        "pairs": flagged[:TOP_PAIRS],
        "more": max(0, len(flagged) - TOP_PAIRS),
        # Groups say more than the table only when some submission is in more than one pair.
        "clusters": similarity.get("clusters", []) if len(flagged) > 1 else [],
    }


def similar_to(similarity: dict[str, Any] | None, name: str) -> list[dict[str, Any]]:
    """The flagged pairs one submission is in, seen from it: the other one, both shares, the page (from OUT)."""
    found = []
    for pair in (similarity or {}).get("pairs", []):
        if pair.get("flagged") and name in (pair.get("a"), pair.get("b")):
            mine = "a" if pair["a"] == name else "b"
            other = "b" if mine == "a" else "a"
            found.append({"other": pair[other], "own_share": pair[f"score_{mine}"],
                          "other_share": pair[f"score_{other}"], "page": pair.get("page")})
    return found
