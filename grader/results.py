"""`result.json`: the one module that writes and reads it.

Every grading leaves `OUT/<name>/result.json`, a `GradeResult` (the schema is `grader schema`); the batch, a
re-run (to reuse an unchanged result) and the reports read it back. What a result says (test totals, the
suite's verdicts, category titles) is on the models in `grader.models`; where it lives and how it is
written is here. Writes are atomic, and a full or read-only disk is one sentence (`OutputError`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TypeVar

from pydantic import Field, ValidationError

from grader.models import GradeResult
from grader.outdir import write_atomically, writing_output

RESULT_FILE = "result.json"
ResultT = TypeVar("ResultT", bound=GradeResult)


class ResultFileError(Exception):
    """A result file could not be found or read; the message names the file and what is wrong with it."""


class LoadedResult(GradeResult):
    """A result read from disk; `origin` is the file it came from (never serialised)."""

    origin: Path | None = Field(default=None, exclude=True)


def result_path(directory: Path) -> Path:
    """Where the result of the grading written to `directory` (`OUT/<name>`) is."""
    return directory / RESULT_FILE


def result_dir(out_root: Path, name: str) -> Path:
    """`out_root/<name>`, created on demand (a full or read-only disk raises OutputError)."""
    path = out_root / name
    with writing_output(path):
        path.mkdir(parents=True, exist_ok=True)
    return path


def result_json(result: GradeResult) -> str:
    """The text of a result file: indented JSON with a final newline."""
    return json.dumps(result.model_dump(mode="json"), indent=2) + "\n"


def write_result(result: GradeResult, directory: Path) -> Path:
    """Write `directory/result.json` atomically (a reader never sees half a file); a full or read-only disk
    raises OutputError, leaving no half-written file behind.

    A result read from a file (`load_result`) is written as that file's bytes, so re-rendering copies what
    was graded exactly; written onto the file it came from, it is left as it is.
    """
    path = result_path(directory)
    origin = result.origin if isinstance(result, LoadedResult) else None
    if origin is not None and origin.is_file():
        if origin.resolve() != path.resolve():
            write_atomically(path, origin.read_bytes())
        return path
    return write_atomically(path, result_json(result))


def read_result(path: Path) -> GradeResult:
    """Read and validate one result file; any problem is a ResultFileError naming the file."""
    return _read(path, GradeResult)


def load_result(path: Path) -> LoadedResult:
    """`read_result`, remembering the file (`origin`): a report rendered from it copies that file."""
    result = _read(path, LoadedResult)
    result.origin = path
    return result


def previous_result(directory: Path) -> GradeResult | None:
    """The result already written to `directory`, or None when there is none or it cannot be read."""
    try:
        return read_result(result_path(directory))
    except ResultFileError:
        return None


def _read(path: Path, model: type[ResultT]) -> ResultT:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ResultFileError(f"{path}: cannot read it: {exc}") from exc
    try:
        return model.model_validate_json(text)
    except ValidationError as exc:
        raise ResultFileError(f"{path}: not a valid {RESULT_FILE}: {_first_error(exc)}") from exc


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error.get("loc", ())) or "document"
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where}: {error.get('msg', 'invalid')}{more}"


def find_result_files(path: Path) -> list[Path]:
    """`path` itself when it is a file, else its own `result.json`, else every one under it, sorted."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise ResultFileError(f"{path}: no such file or directory")
    direct = result_path(path)
    found = [direct] if direct.is_file() else sorted(path.rglob(RESULT_FILE))
    if not found:
        raise ResultFileError(f"{path}: no {RESULT_FILE} found in this directory")
    return found
