"""What a cohort folder held that was not graded, and `cohort.json`, which carries it to the reports.

`grader grade` lists every entry of a cohort folder that it does not grade, with the reason, before grading
starts (`grader.bulk.survey_submissions` decides). It records them in `OUT/cohort.json`, one record per
cohort folder (replaced when that folder is graded again into the same OUT, so re-runs never pile up
stale entries), and the cohort reports (`index.html`, `summary.md`) list them. `grader report OUT` reads
them back from there, since every other report input is a `result.json`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from grader.outdir import write_atomically

COHORT_FILE = "cohort.json"


class SkippedEntry(BaseModel):
    """An entry of a cohort folder that was not graded, and why (one sentence for the reviewer)."""

    model_config = ConfigDict(frozen=True)

    folder: str  # the cohort folder, as an absolute path
    name: str  # the entry's name inside it
    reason: str

    def describe(self) -> str:
        """`cohort/carol.rar: a RAR archive: ...`, the folder shortened to its own name."""
        return f"{Path(self.folder).name}/{self.name}: {self.reason}"


class CohortFolder(BaseModel):
    """One cohort folder as the last `grade` into this OUT found it."""

    folder: str
    submissions: list[str]  # the entries that were graded
    skipped: list[SkippedEntry]


class CohortRecord(BaseModel):
    """The whole of `OUT/cohort.json`."""

    schema_version: Literal["1"] = "1"
    folders: list[CohortFolder] = []


def folder_key(folder: Path) -> str:
    """The absolute, normalised path a cohort folder is recorded under."""
    return os.path.normpath(os.path.abspath(folder))


def read_record(out_dir: Path) -> CohortRecord | None:
    """`OUT/cohort.json`, or None when there is none or it cannot be read (a report then shows no skipped list)."""
    try:
        return CohortRecord.model_validate_json((out_dir / COHORT_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValidationError):
        return None


def record_folders(out_dir: Path, folders: Sequence[CohortFolder]) -> Path | None:
    """Merge `folders` into `OUT/cohort.json` (a folder graded again replaces its record); None when no
    cohort folder was graded."""
    if not folders:
        return None
    previous = read_record(out_dir) or CohortRecord()
    replaced = {folder.folder for folder in folders}
    kept = [folder for folder in previous.folders if folder.folder not in replaced]
    record = CohortRecord(folders=[*kept, *folders])
    return write_atomically(out_dir / COHORT_FILE, json.dumps(record.model_dump(mode="json"), indent=2) + "\n")


def skipped_in(directories: Iterable[Path]) -> list[SkippedEntry]:
    """Every skipped entry recorded in the `cohort.json` at the top of each directory, once each."""
    found: dict[tuple[str, str], SkippedEntry] = {}
    for directory in directories:
        record = read_record(directory) if directory.is_dir() else None
        for folder in record.folders if record else []:
            for entry in folder.skipped:
                found.setdefault((entry.folder, entry.name), entry)
    return list(found.values())
