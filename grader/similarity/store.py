"""Where fingerprints are kept: in the store beside the snapshot (by content hash), and `OUT/<name>/fingerprints.json`.

Intake computes a submission's fingerprints once per content and settings (`cached_fingerprints`); each
grading copies them beside its result, so `grader similarity OUT` re-compares a cohort without the store.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.outdir import write_atomically
from grader.paths import cache_dir
from grader.similarity.fingerprint import Fingerprint, fingerprint_tree

FINGERPRINTS_FILE = "fingerprints.json"
FORMAT_VERSION = 2  # bump when tokens, hashing or winnowing change: old files are then recomputed or ignored


@dataclass(frozen=True)
class SubmissionPrints:
    """One submission's fingerprints, by file path relative to the submission, with the settings that made them."""

    k: int
    window: int
    files: dict[str, list[Fingerprint]]

    def count(self) -> int:
        """How many fingerprints in all."""
        return sum(len(prints) for prints in self.files.values())


def prints_json(prints: SubmissionPrints) -> str:
    """The JSON form: each fingerprint as [hash, first line, last line]."""
    files = {path: [[p.hash, p.start_line, p.end_line] for p in found] for path, found in prints.files.items()}
    return json.dumps({"version": FORMAT_VERSION, "k": prints.k, "window": prints.window, "files": files},
                      separators=(",", ":"))


def parse_prints(text: str) -> SubmissionPrints | None:
    """The fingerprints in `text`, or None when they are of another format version or unreadable."""
    try:
        data: Any = json.loads(text)
        if data.get("version") != FORMAT_VERSION:
            return None
        files = {str(path): [Fingerprint(int(h), int(s), int(e)) for h, s, e in found]
                 for path, found in data["files"].items()}
        return SubmissionPrints(int(data["k"]), int(data["window"]), files)
    except (ValueError, TypeError, KeyError, AttributeError):
        return None


def compute_prints(root: Path, k: int, window: int) -> SubmissionPrints:
    """Fingerprint every Python file under `root` (read as text)."""
    return SubmissionPrints(k, window, fingerprint_tree(root, k, window))


def cached_fingerprints(snapshot: Path, content_hash: str, k: int, window: int) -> SubmissionPrints:
    """The snapshot's fingerprints from the store, computed and stored on first use."""
    key = content_hash.removeprefix("sha256:")[:32]
    path = cache_dir("fingerprints") / f"{key}-k{k}-w{window}-v{FORMAT_VERSION}.json"
    if path.is_file():
        stored = parse_prints(path.read_text(encoding="utf-8"))
        if stored is not None:
            with contextlib.suppress(OSError):
                os.utime(path)  # last use, for `grader cache prune`
            return stored
    prints = compute_prints(snapshot, k, window)
    # A full store or a concurrent grading of the same content: the grading goes on without the stored copy.
    with contextlib.suppress(OSError):
        write_atomically(path, prints_json(prints))
    return prints


def write_prints(prints: SubmissionPrints, directory: Path) -> Path:
    """Write `directory/fingerprints.json` atomically."""
    directory.mkdir(parents=True, exist_ok=True)
    return write_atomically(directory / FINGERPRINTS_FILE, prints_json(prints))


def read_prints(directory: Path) -> SubmissionPrints | None:
    """The fingerprints beside a result, or None when there are none (or of another version)."""
    path = directory / FINGERPRINTS_FILE
    if not path.is_file():
        return None
    return parse_prints(path.read_text(encoding="utf-8"))
