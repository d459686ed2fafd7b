"""The input of a batch: which arguments are submissions and which are cohort folders, what in a cohort
folder is skipped and why, and each submission's output name.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from grader.cohort import CohortFolder, SkippedEntry, folder_key
from grader.intake import READABLE_ARCHIVES, archive_kind, submission_name, unreadable_format

# Zip files by content that are no submission: office documents, e-books, Java and Python packages.
ZIP_BASED_FORMATS = frozenset({
    ".docx", ".xlsx", ".pptx", ".odt", ".ods", ".odp", ".epub", ".jar", ".war", ".whl", ".apk", ".ipa",
    ".xpi", ".vsix", ".nupkg", ".key", ".pages", ".numbers",
})
PROJECT_FILES = frozenset({
    "pyproject.toml", "requirements.txt", "Pipfile", "Procfile", "setup.py", "setup.cfg", "manage.py",
})
SKIPPED_ENTRIES = frozenset({"__pycache__", "node_modules", "__MACOSX"})
# What only a repository has at its top, never a folder of submissions: a monorepo is one submission.
REPOSITORY_MARKERS = (".git", ".github", ".gitlab-ci.yml", ".gitignore")
REPOSITORY_FILE_PREFIXES = ("readme", "dockerfile", "docker-compose", "compose.y", "makefile")


def is_archive(path: Path) -> bool:
    """A file the intake unpacks as a submission: a zip or tar (plain, gz, bz2, xz) by its content, or a
    file named like one (a damaged archive is graded into an error that says so)."""
    return archive_kind(path) is not None


def is_cohort_folder(path: Path) -> bool:
    """Whether a directory holds submissions rather than being one (the rule in `grader.bulk`'s docstring)."""
    if not path.is_dir() or any((path / name).exists() for name in REPOSITORY_MARKERS):
        return False
    entries = [entry for entry in path.iterdir() if not entry.name.startswith(".")]
    if any(entry.name in PROJECT_FILES or (entry.suffix == ".py" and entry.is_file()) for entry in entries):
        return False
    if any(entry.name.lower().startswith(REPOSITORY_FILE_PREFIXES) and entry.is_file() for entry in entries):
        return False  # a monorepo: its Python project lives in a subfolder (grader.project)
    # An archive the grader cannot read counts too: it is listed as skipped instead of the folder being
    # graded as one submission with "no Python file".
    return any(skip_reason(entry) is None or _unreadable_archive(entry) for entry in entries)


def _unreadable_archive(entry: Path) -> bool:
    return entry.is_file() and unreadable_format(entry) is not None


def skip_reason(entry: Path) -> str | None:
    """Why an entry of a cohort folder is not graded (one phrase for the reviewer), or None: a submission."""
    name = entry.name
    if name.startswith("."):
        return "a hidden entry"
    if name == "__MACOSX":
        return "macOS Finder's metadata folder, not a submission"
    if name in SKIPPED_ENTRIES:
        return "a tool's cache folder, not a submission"
    if entry.is_symlink() and entry.is_dir():
        return "a symbolic link to a folder: the grader does not follow it; copy the submission in"
    if entry.is_dir():
        return None
    if not entry.exists():
        return "a symbolic link to nothing"
    if not entry.is_file():
        return "not a submission: neither a plain file nor a folder"
    if is_archive(entry):
        suffix = entry.suffix.lower()
        return f"not a submission: a {suffix} document or package" if suffix in ZIP_BASED_FORMATS else None
    what = unreadable_format(entry)
    if what is not None:
        return f"{what}: the grader reads {READABLE_ARCHIVES}; repack it as .zip"
    return "not a submission: a plain file"


@dataclass(frozen=True)
class Survey:
    """The submissions the arguments stand for, and each cohort folder's entries that are not graded."""

    submissions: list[Path]
    folders: list[CohortFolder]

    @property
    def skipped(self) -> list[SkippedEntry]:
        """Every skipped entry, folder by folder."""
        return [entry for folder in self.folders for entry in folder.skipped]


def survey_submissions(paths: Iterable[Path]) -> Survey:
    """Every submission the arguments stand for, in argument order (a cohort folder's entries by name),
    and what each cohort folder held that is not graded, with the reason.

    The same path given twice (or found twice) is graded once.
    """
    found: list[Path] = []
    folders: list[CohortFolder] = []
    seen: set[str] = set()
    for path in paths:
        members = [path]
        if is_cohort_folder(path):
            folder, members = _survey_folder(path)
            folders.append(folder)
        for member in members:
            key = os.path.realpath(member)
            if key not in seen:
                seen.add(key)
                found.append(member)
    return Survey(found, folders)


def _survey_folder(path: Path) -> tuple[CohortFolder, list[Path]]:
    key = folder_key(path)
    members: list[Path] = []
    skipped: list[SkippedEntry] = []
    for entry in sorted(path.iterdir()):
        reason = skip_reason(entry)
        if reason is None:
            members.append(entry)
        else:
            skipped.append(SkippedEntry(folder=key, name=entry.name, reason=reason))
    return CohortFolder(folder=key, submissions=[m.name for m in members], skipped=skipped), members


def expand_submissions(paths: Iterable[Path]) -> list[Path]:
    """Every submission the arguments stand for (`survey_submissions` without the skipped entries)."""
    return survey_submissions(paths).submissions


def skipped_lines(survey: Survey) -> list[str]:
    """What the terminal shows before grading: per cohort folder, a count, then each entry and its reason."""
    lines: list[str] = []
    for folder in survey.folders:
        if folder.skipped:
            total = len(folder.skipped) + len(folder.submissions)
            lines.append(f"{folder.folder}: {len(folder.skipped)} of {total} entries not graded:")
            lines += [f"  {entry.name}: {entry.reason}" for entry in folder.skipped]
    return lines


def batch_names(sources: Sequence[Path]) -> list[str]:
    """Output names, one per source: the submission's name, suffixed with a path hash when it repeats."""
    names = [submission_name(source) for source in sources]
    repeated = {name for name in names if names.count(name) > 1}
    unique = []
    for source, name in zip(sources, names, strict=True):
        if name in repeated:
            digest = hashlib.sha256(os.path.realpath(source).encode()).hexdigest()[:6]
            name = f"{name[:57]}-{digest}"
        unique.append(name)
    return unique
