"""Helpers shared by the static checks' sandbox side (`python -m checks.<id>`).

Standard library only, and importable by an older interpreter too: `checks.candidate_tests` runs with the
candidate's own Python. Nothing here imports, executes or writes into the candidate's code: files are
listed without following symlinks, read with a size cap and parsed with `ast` only.

Conventions every check follows:
- paths in findings are relative to the submission root, in posix form;
- junk directories (virtualenvs, caches, VCS metadata, node_modules) are never looked at;
- "test code" is `tests/` or `test/` directories, `test_*.py`, `*_test.py`, `tests.py` and `conftest.py`;
- "migrations" are files under a `migrations/` or `alembic/` directory (Django, Flask-Migrate, Alembic's
  env.py and versions/);
- "app code" is every other Python file;
- a Python file that does not parse is *failing*, not absent: the code checks report `files_not_parsed`,
  `lines_not_parsed` and `parsed_share` (`parse_metrics`), and the grader scales their points by it;
- a crash of the check (tool missing, driver failure) is one line on stderr and a non-zero exit.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, NoReturn

from checks.formats import MAX_FINDINGS, FindingDict, StaticReport, report_file

JUNK_DIRS = frozenset({
    ".git", ".hg", ".svn", ".venv", "venv", ".env", "env", "virtualenv", "node_modules", "__pycache__",
    ".mypy_cache", ".pytest_cache", ".ruff_cache", ".tox", ".nox", ".eggs", "site-packages", ".idea",
    ".vscode", "htmlcov",
})
TEST_DIRS = frozenset({"tests", "test"})
MAX_FILE_BYTES = 1_000_000  # a larger file is skipped (with a finding): generated or hostile
MAX_FILES = 5000  # files considered per check
MAX_TOOL_OUTPUT = 8_000_000  # bytes of a tool's stdout/stderr kept
CRASH_EXIT = 2


class CheckCrashed(Exception):
    """The check itself could not run (tool missing or crashed): reported on stderr, not as a finding."""


@dataclass(frozen=True)
class SourceFile:
    """A regular file of the submission: its absolute path and its posix path relative to the root."""

    path: Path
    rel: str


@dataclass(frozen=True)
class ParsedFile:
    """A Python file that parsed: its syntax tree, its text and its count of code lines."""

    source: SourceFile
    tree: ast.Module
    text: str
    code_lines: int


@dataclass(frozen=True)
class UnparsedFile:
    """A Python file that does not parse: where the parser stopped, its message and its count of code lines."""

    source: SourceFile
    line: int | None
    message: str
    code_lines: int


@dataclass(frozen=True)
class ParsedSources:
    """The outcome of parsing a set of files: what parsed, what did not, and the findings saying so."""

    parsed: list[ParsedFile]
    unparsed: list[UnparsedFile]
    problems: list[FindingDict]  # one `syntax-error` per unparsed file, one `file-skipped` per skipped file


@dataclass(frozen=True)
class ToolResult:
    """A finished (or timed-out) subprocess: exit code (None on timeout) and its decoded output."""

    returncode: int | None
    stdout: str
    stderr: str
    timed_out: bool


# --- files -------------------------------------------------------------------------------------------


def _is_junk_dir(directory: Path, name: str) -> bool:
    if name in JUNK_DIRS or name.endswith(".egg-info"):
        return True
    return (directory / name / "pyvenv.cfg").exists()


def walk_files(root: Path, limit: int = MAX_FILES) -> list[SourceFile]:
    """Regular files under `root` (symlinks and junk dirs skipped), sorted by relative path, at most `limit`."""
    found: list[SourceFile] = []
    for current, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(current)
        dirnames[:] = sorted(d for d in dirnames if not _is_junk_dir(here, d) and not (here / d).is_symlink())
        for name in sorted(filenames):
            path = here / name
            if path.is_symlink() or not path.is_file():
                continue
            found.append(SourceFile(path, path.relative_to(root).as_posix()))
            if len(found) >= limit:
                found.sort(key=lambda item: item.rel)
                return found
    found.sort(key=lambda item: item.rel)
    return found


def python_files(root: Path) -> list[SourceFile]:
    """The submission's `.py` files, sorted, junk dirs excluded."""
    return [item for item in walk_files(root, limit=10 * MAX_FILES) if item.rel.endswith(".py")][:MAX_FILES]


def is_test_path(rel: str) -> bool:
    """True for test code: tests/ or test/ dirs, test_*.py, *_test.py, tests.py, conftest.py."""
    parts = rel.split("/")
    name = parts[-1]
    if any(part in TEST_DIRS for part in parts[:-1]):
        return True
    return (name.startswith("test_") or name.endswith("_test.py") or name in ("conftest.py", "tests.py"))


def is_migration_path(rel: str) -> bool:
    """True for database migrations: anything under a `migrations/` or `alembic/` directory."""
    parts = rel.split("/")[:-1]
    return "migrations" in parts or "alembic" in parts


def is_app_path(rel: str) -> bool:
    """True for application code: neither tests nor migrations."""
    return not is_test_path(rel) and not is_migration_path(rel)


def read_bytes(source: SourceFile, limit: int = MAX_FILE_BYTES) -> bytes | None:
    """The file's bytes, or None when it is larger than `limit` or unreadable."""
    try:
        if source.path.stat().st_size > limit:
            return None
        return source.path.read_bytes()
    except OSError:
        return None


def decode_source(data: bytes) -> str:
    """Python source text: PEP 263 encoding when declared and valid, else UTF-8; bad bytes replaced."""
    import codecs
    import io
    import tokenize

    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        codecs.lookup(encoding)
    except (SyntaxError, LookupError):
        encoding = "utf-8"
    return data.decode(encoding, errors="replace")


def count_code_lines(text: str) -> int:
    """Non-blank lines that are not only a comment (docstrings count as code)."""
    return sum(1 for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#"))


def parse_python(
    files: Sequence[SourceFile], feature_version: tuple[int, int] | None = None,
) -> tuple[list[ParsedFile], list[FindingDict]]:
    """Parse each file with `ast`; unparsable, undecodable or oversized files become findings instead."""
    sources = parse_sources(files, feature_version)
    return sources.parsed, sources.problems


def parse_sources(files: Sequence[SourceFile], feature_version: tuple[int, int] | None = None) -> ParsedSources:
    """Parse each file with `ast`, keeping the files that do not parse (with their code lines) apart.

    An oversized or unreadable file is skipped (an `info` finding): it is neither parsed nor failing.
    """
    parsed: list[ParsedFile] = []
    unparsed: list[UnparsedFile] = []
    problems: list[FindingDict] = []
    for source in files:
        data = read_bytes(source)
        if data is None:
            problems.append(finding(f"skipped: file larger than {MAX_FILE_BYTES} bytes or unreadable",
                                    source.rel, None, "file-skipped", "python_fundamentals", "info"))
            continue
        tree, error = _parse(data, source.rel, feature_version)
        text = decode_source(data)
        if tree is None:
            line, message = error
            unparsed.append(UnparsedFile(source, line, message, count_code_lines(text)))
            problems.append(finding(f"syntax error: {message}", source.rel, line, "syntax-error",
                                    "python_fundamentals"))
            continue
        parsed.append(ParsedFile(source, tree, text, count_code_lines(text)))
    return ParsedSources(parsed, unparsed, problems)


def parse_metrics(sources: ParsedSources) -> dict[str, float]:
    """How much of the code a check could read: `files_not_parsed`, `lines_not_parsed` and `parsed_share`.

    `parsed_share` is the % of code lines that are in files that parse (100 when there is no code at all):
    the lines of a file that does not parse count as failing, so the grader scales the check's points by it.
    """
    parsed_lines = sum(item.code_lines for item in sources.parsed)
    unparsed_lines = sum(max(1, item.code_lines) for item in sources.unparsed)  # never free: at least 1
    total = parsed_lines + unparsed_lines
    return {
        "files_not_parsed": len(sources.unparsed),
        "lines_not_parsed": unparsed_lines,
        "parsed_share": share(parsed_lines, total) if total else 100.0,
    }


def _parse(
    data: bytes, rel: str, feature_version: tuple[int, int] | None,
) -> tuple[ast.Module | None, tuple[int | None, str]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            if feature_version is None:
                return ast.parse(data, filename=rel), (None, "")
            return ast.parse(data, filename=rel, feature_version=feature_version), (None, "")
        except SyntaxError as exc:
            return None, (exc.lineno, one_line(exc.msg or "invalid syntax"))
        except (ValueError, RecursionError, MemoryError) as exc:
            return None, (None, one_line(f"{type(exc).__name__}: {exc}"))


def compared_literal_lines(tree: ast.AST) -> set[int]:
    """Lines where a string literal is only compared (`if OVERRIDE_TOKEN_EXPIRATION == "TRUE":`), never
    assigned, passed as an argument, used as a default or as a dict value: a comparison reads a setting, it
    does not hard-code a secret (secret scanners and ruff's S105 flag both alike)."""
    compared_ids: set[int] = set()
    compared: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            for constant in _string_constants([node.left, *node.comparators]):
                compared_ids.add(id(constant))
                compared.add(constant.lineno)
    bound = {constant.lineno for constant in _string_constants(_bound_values(tree)) if id(constant) not in compared_ids}
    return compared - bound


def _bound_values(tree: ast.AST) -> list[ast.expr]:
    """Expressions whose value ends up in a name, an argument, a default or a dict entry."""
    values: list[ast.expr] = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.NamedExpr, ast.keyword)):
            values += [node.value] if node.value is not None else []
        elif isinstance(node, ast.Dict):
            values += node.values
        elif isinstance(node, ast.arguments):
            values += [*node.defaults, *(d for d in node.kw_defaults if d is not None)]
        elif isinstance(node, ast.Call):
            values += node.args
    return values


def _string_constants(roots: Sequence[ast.expr]) -> list[ast.Constant]:
    return [node for root in roots for node in ast.walk(root)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)]


# --- findings and reports ----------------------------------------------------------------------------


def one_line(text: str, limit: int = 300) -> str:
    """Collapse whitespace to one line and cap its length."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def finding(
    message: str, file: str | None = None, line: int | None = None, rule: str | None = None,
    category: str = "python_fundamentals", severity: str = "warning",
) -> FindingDict:
    """A finding with every key set, so reports have one shape."""
    return {"message": one_line(message, 500), "file": file, "line": line, "rule": rule, "category": category,
            "severity": severity}


def write_report(
    out_dir: Path, check_id: str, metrics: dict[str, float], findings: list[FindingDict],
    tools: dict[str, str] | None = None,
) -> Path:
    """Write a static check's report (`checks.formats.StaticReport`) atomically: the host never reads half a file."""
    payload: StaticReport = {
        "id": check_id,
        "metrics": {name: round(float(value), 4) for name, value in sorted(metrics.items())},
        "findings": findings[:MAX_FINDINGS],
        "findings_total": len(findings),
        "tools": tools or {},
    }
    target = out_dir / report_file(check_id)
    tmp = target.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, indent=1))
    tmp.replace(target)
    return target


def location_key(item: FindingDict) -> tuple[str, int, str, str]:
    """Deterministic order: file (repository-level findings first), line, rule, message."""
    return (item.get("file") or "", item.get("line") or 0, item.get("rule") or "", item.get("message", ""))


SEVERITY_RANK = {"error": 0, "warning": 1, "info": 2}


def importance_key(item: FindingDict) -> tuple[int, str, int, str, str]:
    """Most severe first, then by location."""
    return (SEVERITY_RANK.get(item.get("severity", "warning"), 3), *location_key(item))


def share(part: float, whole: float) -> float:
    """part / whole as a percentage (0-100), 0 when whole is 0."""
    return round(100.0 * part / whole, 2) if whole else 0.0


def per_kloc(count: float, lines: float) -> float:
    """count per 1000 lines, 0 when there are no lines."""
    return round(1000.0 * count / lines, 2) if lines else 0.0


# --- subprocesses --------------------------------------------------------------------------------------


def tool_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """A minimal environment for the grader's tools: no inherited tool configuration or plugins."""
    env = {name: os.environ[name] for name in ("PATH", "LANG", "LC_ALL", "TZ", "SYSTEMROOT") if name in os.environ}
    env["HOME"] = tempfile.gettempdir()
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["PYTHONIOENCODING"] = "utf-8"
    env["NO_COLOR"] = "1"
    env.update(extra or {})
    return env


def run_tool(argv: Sequence[str], cwd: Path, env: dict[str, str], timeout: float) -> ToolResult:
    """Run `argv` in its own process group; on timeout (or when it exits) the whole group is killed.

    Output goes to temporary files, not pipes, so a grandchild holding a pipe open cannot hang us.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        try:
            proc = subprocess.Popen(list(argv), cwd=str(cwd), env=env, stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=err, start_new_session=True)
        except OSError as exc:
            raise CheckCrashed(f"cannot run {argv[0]}: {exc}") from exc
        returncode: int | None
        try:
            returncode = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            returncode = None
        finally:
            _kill_group(proc.pid)
            proc.wait()
        return ToolResult(returncode, _read_capped(out), _read_capped(err), returncode is None)


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _read_capped(stream: IO[bytes]) -> str:
    stream.seek(0)
    return stream.read(MAX_TOOL_OUTPUT).decode("utf-8", errors="replace")


def python_tool(module: str, args: Sequence[str], cwd: Path, timeout: float,
                env: dict[str, str] | None = None) -> ToolResult:
    """`sys.executable -I -B -m module args...` in the tool environment.

    Isolated mode (`-I`): neither the working directory nor PYTHON* variables reach `sys.path`, so a
    candidate's `yaml.py` or `mypy_extensions.py` next to the working directory is never imported by the
    tool; `-B`: no bytecode written.
    """
    return run_tool([sys.executable, "-I", "-B", "-m", module, *args], cwd, env or tool_env(), timeout)


def tool_version(module: str, cwd: Path, args: Sequence[str] = ("--version",)) -> str:
    """The version a Python tool reports (its last word-with-a-digit); CheckCrashed when it cannot run."""
    result = python_tool(module, args, cwd, timeout=60)
    text = (result.stdout or result.stderr).strip()
    if result.returncode != 0 or not text:
        raise CheckCrashed(f"{module} is not installed or does not run: {one_line(text or 'no output', 200)}")
    return version_word(text)


def version_word(text: str) -> str:
    """The first whitespace-separated word that looks like a version number, else the first line."""
    first = text.strip().splitlines()[0] if text.strip() else ""
    for word in first.replace(",", " ").split():
        if word[:1].isdigit():
            return word
    return first


# --- the command line ----------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: {one_line(message)}", file=sys.stderr)
        raise SystemExit(CRASH_EXIT)


Report = tuple[dict[str, float], list[FindingDict], dict[str, str]]  # metrics, findings, tools
Body = Callable[[Path, Path, argparse.Namespace], Report]


def run_main(check_id: str, body: Body, argv: Sequence[str] | None = None,
             extra_args: Callable[[argparse.ArgumentParser], None] | None = None) -> int:
    """Parse `--submission/--out`, run the check's body and write its report; one-line stderr on a crash."""
    parser = _Parser(prog=f"checks.{check_id}", description=f"static check {check_id}")
    parser.add_argument("--submission", required=True, type=Path)
    parser.add_argument("--out", required=True, type=Path)
    if extra_args is not None:
        extra_args(parser)
    args = parser.parse_args(argv)
    try:
        submission = args.submission.resolve()
        if not submission.is_dir():
            raise CheckCrashed(f"submission directory not found: {args.submission}")
        out = args.out.resolve()
        out.mkdir(parents=True, exist_ok=True)
        metrics, findings, tools = body(submission, out, args)
        write_report(out, check_id, metrics, findings, tools)
    except CheckCrashed as exc:
        print(f"checks.{check_id}: {one_line(str(exc))}", file=sys.stderr)
        return CRASH_EXIT
    except Exception as exc:  # the driver itself failed: say so in one line, never blame the candidate
        print(f"checks.{check_id}: internal error: {type(exc).__name__}: {one_line(str(exc))}", file=sys.stderr)
        return CRASH_EXIT
    return 0
