"""A cohort's comparison from an output directory: the fingerprints beside each result (or recomputed from the
snapshot), the challenge's starter and public files, an optional reference corpus; `OUT/similarity.json`.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.cache import snapshots_dir
from grader.challenge import public_tests_dir, starter_dir
from grader.intake import submission_name
from grader.models import Challenge, SimilaritySettings
from grader.outdir import write_atomically, writing_output
from grader.results import ResultFileError, find_result_files, read_result
from grader.similarity.compare import Comparison, Entry, compare
from grader.similarity.fingerprint import python_files
from grader.similarity.store import SubmissionPrints, compute_prints, read_prints

SIMILARITY_FILE = "similarity.json"
PAGES_DIR = "similarity"  # OUT/similarity/pair-NNN.html: one side-by-side page per flagged pair
AGAINST_PREFIX = "against/"  # names of the reference corpus's entries: never a folder under OUT


@dataclass(frozen=True)
class Loaded:
    """The entries found, and one sentence for each submission left out."""

    entries: list[Entry]
    left_out: list[str] = field(default_factory=list)


def load_results_dir(out_dir: Path, settings: SimilaritySettings, *, reference: bool = False) -> Loaded:
    """Every graded submission under `out_dir`, named by its folder there, with its fingerprints."""
    entries: list[Entry] = []
    left_out: list[str] = []
    for path in find_result_files(out_dir):
        directory = path.parent
        name = directory.relative_to(out_dir).as_posix() if directory != out_dir else directory.name
        snapshot = _snapshot_of(path)
        prints = _prints_of(path, snapshot, settings)
        if prints is None:
            left_out.append(f"{name}: no fingerprints beside its result and its snapshot is no longer in the "
                            "store; grade it again to include it")
            continue
        entries.append(Entry(f"{AGAINST_PREFIX}{name}" if reference else name, prints, reference, snapshot))
    return Loaded(entries, left_out)


def _snapshot_of(result_file: Path) -> Path | None:
    """The graded submission's snapshot in the store, while it is there (`grader cache prune` removes it)."""
    try:
        submission = read_result(result_file).submission
    except ResultFileError:
        return None
    if submission is None:
        return None
    snapshot = snapshots_dir() / f"{submission_name(Path(submission.source))}-" \
                                 f"{submission.content_hash.removeprefix('sha256:')[:12]}"
    return snapshot if snapshot.is_dir() else None


def _prints_of(result_file: Path, snapshot: Path | None, settings: SimilaritySettings) -> SubmissionPrints | None:
    """The stored fingerprints when made with these settings, else recomputed from the snapshot in the store."""
    stored = read_prints(result_file.parent)
    if stored is not None and (stored.k, stored.window) == (settings.k, settings.window):
        return stored
    return compute_prints(snapshot, settings.k, settings.window) if snapshot is not None else None


def load_against(path: Path, settings: SimilaritySettings) -> Loaded:
    """The reference corpus: an earlier output directory (its results' fingerprints), or a folder of source
    trees (each subfolder one solution, or the folder itself when it holds Python files at its top)."""
    try:
        return load_results_dir(path, settings, reference=True)
    except ResultFileError:
        pass
    trees = [path] if any(child.suffix == ".py" for child in path.iterdir()) else sorted(
        child for child in path.iterdir() if child.is_dir() and not child.name.startswith("."))
    entries = [Entry(f"{AGAINST_PREFIX}{tree.name}", compute_prints(tree, settings.k, settings.window), True, tree)
               for tree in trees if next(python_files(tree), None) is not None]
    return Loaded(entries)


def starter_hashes(challenge: Challenge | None, settings: SimilaritySettings) -> frozenset[int]:
    """The fingerprints of the challenge's starter and public files: every candidate was given them."""
    if challenge is None:
        return frozenset()
    hashes: set[int] = set()
    for folder in (starter_dir(challenge), public_tests_dir(challenge)):
        if folder.is_dir():
            prints = compute_prints(folder, settings.k, settings.window)
            hashes.update(fp.hash for found in prints.files.values() for fp in found)
    return frozenset(hashes)


def compare_out_dir(out_dir: Path, challenge: Challenge | None, settings: SimilaritySettings,
                    against: Path | None = None) -> tuple[Comparison, list[str]]:
    """Compare the cohort under `out_dir` (and with `against`); the comparison and the submissions left out."""
    cohort = load_results_dir(out_dir, settings)
    corpus = load_against(against, settings) if against is not None else Loaded([])
    comparison = compare([*cohort.entries, *corpus.entries], settings, starter_hashes(challenge, settings))
    return comparison, [*cohort.left_out, *corpus.left_out]


def comparison_json(comparison: Comparison, left_out: list[str]) -> dict[str, Any]:
    """What `OUT/similarity.json` holds (docs/similarity.md)."""
    settings = comparison.settings
    return {
        "version": 1,
        "note": "Similarity is a reason to look at two submissions side by side, not a verdict.",
        "settings": settings.model_dump(),
        "submissions": [{"name": name, "fingerprints": count, "reference": name in comparison.references}
                        for name, count in sorted(comparison.evidence.items())],
        "left_out": left_out,
        "removed": {"starter_fingerprints": comparison.removed_starter,
                    "common_fingerprints": comparison.removed_common,
                    "boilerplate_files": comparison.boilerplate_files},
        "pairs": [
            {"a": pair.a, "b": pair.b, "score_a": pair.score_a, "score_b": pair.score_b, "flagged": pair.flagged,
             "shared_fingerprints": pair.shared, "b_reference": pair.b_reference,
             "page": pair_page(number) if pair.flagged else None,
             "matches": {"a": _ranges(pair.matches_a), "b": _ranges(pair.matches_b)}}
            for number, pair in enumerate(comparison.pairs)
        ],
        "clusters": comparison.clusters(),
    }


def pair_page(number: int) -> str:
    """The side-by-side page of the pair at `number` in the comparison, relative to OUT."""
    return f"{PAGES_DIR}/pair-{number + 1:03d}.html"


def _ranges(by_file: dict[str, list[tuple[int, int]]]) -> dict[str, list[list[int]]]:
    return {path: [[start, end] for start, end in ranges] for path, ranges in by_file.items()}


def write_similarity(out_dir: Path, comparison: Comparison, left_out: list[str]) -> Path:
    """Write `OUT/similarity.json` atomically."""
    return write_atomically(out_dir / SIMILARITY_FILE, json.dumps(comparison_json(comparison, left_out), indent=1))


def read_similarity(out_dir: Path) -> dict[str, Any] | None:
    """`OUT/similarity.json` as written, or None when there is none (or it is unreadable)."""
    path = out_dir / SIMILARITY_FILE
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def copy_similarity(source: Path, out_dir: Path) -> bool:
    """Copy `source`'s similarity.json and pair pages into `out_dir` unless it has its own comparison or is
    `source`; whether `out_dir` now has one."""
    if (out_dir / SIMILARITY_FILE).is_file():
        return True
    if not (source / SIMILARITY_FILE).is_file() or source.resolve() == out_dir.resolve():
        return False
    with writing_output(out_dir):
        out_dir.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source / SIMILARITY_FILE, out_dir / SIMILARITY_FILE)
        if (source / PAGES_DIR).is_dir():
            shutil.copytree(source / PAGES_DIR, out_dir / PAGES_DIR, dirs_exist_ok=True)
    return True


def recorded_challenge_id(out_dir: Path) -> str | None:
    """The challenge the first readable result under `out_dir` was graded against."""
    for path in find_result_files(out_dir):
        try:
            return read_result(path).challenge.get("id")
        except ResultFileError:
            continue
    return None
