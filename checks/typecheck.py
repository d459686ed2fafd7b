"""Static check `typecheck`: mypy --strict on the candidate's application code, plus annotation coverage.

Evidence for python_fundamentals (type hints, PEP 484). Runs in the grader's tool image:

    python -m checks.typecheck --submission DIR --out DIR

What is analysed: app code only (tests and migrations excluded, see `checks._common`). Files that do not
parse as Python 3.11 are not given to mypy: each is a `syntax-error` finding, and they count as failing
through `parsed_share` (below).

How mypy runs: with the grader's `checks/config/mypy.ini` and the flags below, never the candidate's
configuration; `--no-site-packages`, so every third-party import is treated as `Any` whatever the tool
image happens to contain (the result depends on the submission only), and therefore the three `--strict`
parts that only report interaction with `Any` (`--allow-subclassing-any`, `--allow-untyped-decorators`,
`--no-warn-return-any`) are relaxed: `class Note(BaseModel)` and `@app.get(...)` are not errors. The
cache lives in a temporary directory; when `$GRADER_MYPY_SEED` names a warm cache of the standard
library's stubs (made once per runner image by `checks.mypy_seed`), it starts as a copy of that.
mypy reads a *copy* of the app files in which

- `# type: ignore` comments and inline `# mypy:` configuration comments are neutralised (each one is an
  `info` finding, counted in the extra metric `suppressions`): a candidate cannot silence the check;
- directory and file names that are not Python identifiers (`my-app/`) are renamed (`my_app/`) so that
  two `main.py` in different folders never make mypy stop with "Duplicate module named";

and findings are mapped back to the submission's paths. mypy exit 1 means errors were found; exit 2 is a
blocking error (e.g. a candidate's `mypy_extensions.py` or `enum.py` shadowing a library module): the files
it names are removed from the copy (with a finding) and mypy runs again, twice at most; an exit 2 that
names no file is a crash of the check.

Metrics:
- `files`: app files analysed; `lines`: their non-blank, non-comment lines;
- `errors`: mypy errors; `errors_per_100_lines`: errors * 100 / lines;
- `functions`: functions and methods (`def`/`async def`, lambdas excluded) in the analysed files;
- `annotated_functions_share`: % of functions that have a return annotation, or at least one parameter
  with every parameter annotated. Parameters exclude the first parameter of a method (`self`/`cls`);
  `*args`/`**kwargs` count. So `def health():` is annotated only with `-> ...`;
- `annotated_parameters_share`: % of those parameters that are annotated; when there are no parameters at
  all it equals `annotated_functions_share`;
- `annotation_share`: mean of the two shares; all shares are 0 when there are no functions;
- `suppressions`: neutralised `# type: ignore` / `# mypy:` comments;
- `files_not_parsed`, `lines_not_parsed`, `parsed_share`: app files that do not parse, their code lines,
  and the % of app code lines that parse (`checks._common.parse_metrics`).
"""

from __future__ import annotations

import argparse
import ast
import keyword
import os
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from checks._common import (
    CheckCrashed,
    ParsedFile,
    Report,
    finding,
    importance_key,
    is_app_path,
    one_line,
    parse_metrics,
    parse_sources,
    python_files,
    python_tool,
    run_main,
    share,
    tool_env,
    tool_version,
)
from checks.formats import FindingDict

CHECK_ID = "typecheck"
CATEGORY = "python_fundamentals"
CONFIG = Path(__file__).resolve().parent / "config" / "mypy.ini"
SEED_ENV = "GRADER_MYPY_SEED"
MYPY_TIMEOUT_S = 150.0
MAX_RETRIES = 2
MYPY_FLAGS = (
    "--strict", "--ignore-missing-imports", "--follow-imports=silent", "--show-error-codes",
    "--no-error-summary", "--hide-error-context", "--python-version", "3.11", "--no-site-packages",
    "--explicit-package-bases", "--no-color-output", "--no-pretty",
    # third-party code is Any here by construction: don't blame the candidate for subclassing or
    # decorating with it, or for returning what it returns
    "--allow-subclassing-any", "--allow-untyped-decorators", "--no-warn-return-any",
)
IGNORE_COMMENT = re.compile(rb"#\s*type\s*:\s*ignore\b")
INLINE_CONFIG = re.compile(rb"^([ \t]*)#[ \t]*mypy[ \t]*:", re.MULTILINE)
MESSAGE = re.compile(
    r"^(?P<file>[^\n:]+?\.py):(?:(?P<line>\d+):)?(?:\d+:)? (?P<kind>error|note|warning): (?P<text>.*)$"
)
ERROR_CODE = re.compile(r"\s+\[(?P<code>[a-z0-9-]+)\]$")


# --- annotation coverage -------------------------------------------------------------------------------


@dataclass
class AnnotationStats:
    """Counts behind the annotation shares."""

    functions: int = 0
    annotated_functions: int = 0
    parameters: int = 0
    annotated_parameters: int = 0

    def add(self, other: AnnotationStats) -> None:
        """Accumulate another file's counts."""
        self.functions += other.functions
        self.annotated_functions += other.annotated_functions
        self.parameters += other.parameters
        self.annotated_parameters += other.annotated_parameters


FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef


def annotation_stats(tree: ast.AST) -> AnnotationStats:
    """Functions and parameters of one module, and how many are annotated (see the module docstring)."""
    stats = AnnotationStats()
    methods = {id(item) for node in ast.walk(tree) if isinstance(node, ast.ClassDef) for item in node.body}
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            _count_function(node, id(node) in methods and not _is_staticmethod(node), stats)
    return stats


def _is_staticmethod(node: FunctionNode) -> bool:
    return any(isinstance(d, ast.Name) and d.id == "staticmethod" for d in node.decorator_list)


def _count_function(node: FunctionNode, is_method: bool, stats: AnnotationStats) -> None:
    args = node.args
    positional = [*args.posonlyargs, *args.args]
    if is_method and positional:
        positional = positional[1:]
    params = [*positional, *args.kwonlyargs]
    params += [arg for arg in (args.vararg, args.kwarg) if arg is not None]
    annotated = sum(1 for arg in params if arg.annotation is not None)
    stats.functions += 1
    stats.parameters += len(params)
    stats.annotated_parameters += annotated
    if node.returns is not None or (params and annotated == len(params)):
        stats.annotated_functions += 1


# --- the sanitised copy mypy reads -----------------------------------------------------------------------


@dataclass
class Workspace:
    """The copy of the app files mypy analyses, and how its paths map back to the submission."""

    root: Path
    to_original: dict[str, str] = field(default_factory=dict)
    suppressions: list[FindingDict] = field(default_factory=list)


def safe_name(name: str) -> str:
    """A Python identifier for a path component (`my-app` -> `my_app`, `0001` -> `_0001`)."""
    cleaned = re.sub(r"\W", "_", name, flags=re.ASCII) or "_"
    if cleaned[0].isdigit():
        cleaned = "_" + cleaned
    return cleaned + "_" if keyword.iskeyword(cleaned) else cleaned


def _safe_rel(rel: str) -> str:
    *dirs, name = rel.split("/")
    stem = name[:-3]
    return "/".join([*(safe_name(part) for part in dirs), safe_name(stem) + ".py"])


def build_workspace(files: list[ParsedFile], root: Path) -> Workspace:
    """Copy the files under `root` with safe names and neutralised suppression comments."""
    workspace = Workspace(root)
    taken: set[str] = set()
    for parsed in files:
        rel = parsed.source.rel
        target = _safe_rel(rel)
        counter = 1
        while target.lower() in taken:
            counter += 1
            target = _safe_rel(rel)[:-3] + f"_{counter}.py"
        taken.add(target.lower())
        workspace.to_original[target] = rel
        data = parsed.source.path.read_bytes()
        data = _neutralise(data, rel, workspace.suppressions)
        destination = root / target
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_bytes(data)
    return workspace


def _neutralise(data: bytes, rel: str, found: list[FindingDict]) -> bytes:
    for pattern, what in ((IGNORE_COMMENT, "`# type: ignore`"), (INLINE_CONFIG, "inline `# mypy:` configuration")):
        for match in pattern.finditer(data):
            line = data.count(b"\n", 0, match.start()) + 1
            found.append(finding(f"{what} is not honoured by the grader", rel, line, "type-ignore", CATEGORY,
                                 "info"))
    data = IGNORE_COMMENT.sub(b"# grader: ignore removed", data)
    return INLINE_CONFIG.sub(rb"\1# grader: config removed:", data)


# --- running mypy and reading its output -------------------------------------------------------------------


@dataclass
class MypyRun:
    """Errors mypy reported (mapped to submission paths) and files it could not analyse."""

    errors: list[FindingDict] = field(default_factory=list)
    excluded: list[FindingDict] = field(default_factory=list)
    excluded_files: set[str] = field(default_factory=set)


def parse_mypy_output(text: str, to_original: dict[str, str]) -> tuple[list[FindingDict], list[tuple[str, str]]]:
    """(errors with a line, blocking errors as (file, message)) from mypy's text output."""
    errors: list[FindingDict] = []
    blocking: list[tuple[str, str]] = []
    for raw in text.splitlines():
        match = MESSAGE.match(raw.strip())
        if match is None or match["kind"] != "error":
            continue
        rel = to_original.get(match["file"].replace("\\", "/").removeprefix("./"))
        if rel is None:
            continue
        message = match["text"]
        code_match = ERROR_CODE.search(message)
        code = code_match["code"] if code_match else "mypy"
        message = message[: code_match.start()] if code_match else message
        if match["line"] is None or "INTERNAL ERROR" in message:
            blocking.append((rel, message))
        else:
            errors.append(finding(message, rel, int(match["line"]), code, CATEGORY))
    return errors, blocking


def run_mypy(workspace: Workspace, cache: Path) -> MypyRun:
    """mypy on the workspace; files causing blocking errors are excluded and mypy reruns."""
    run = MypyRun()
    for _ in range(MAX_RETRIES + 1):
        targets = sorted(safe for safe, rel in workspace.to_original.items() if rel not in run.excluded_files)
        if not targets:
            return run
        args = ["--config-file", str(CONFIG), *MYPY_FLAGS, "--cache-dir", str(cache), *targets]
        result = python_tool("mypy", args, workspace.root, MYPY_TIMEOUT_S, _mypy_env())
        if result.timed_out:
            raise CheckCrashed(f"mypy timed out after {MYPY_TIMEOUT_S:.0f}s")
        errors, blocking = parse_mypy_output(result.stdout, workspace.to_original)
        if result.returncode in (0, 1):
            run.errors = errors
            return run
        if not blocking:
            reason = one_line(result.stderr.strip() or result.stdout.strip() or "no output", 200)
            raise CheckCrashed(f"mypy failed (exit {result.returncode}): {reason}")
        to_safe = {rel: safe for safe, rel in workspace.to_original.items()}
        for rel, message in blocking:
            if rel not in run.excluded_files:
                run.excluded_files.add(rel)
                (workspace.root / to_safe[rel]).unlink(missing_ok=True)  # mypy would still find it by name
                run.excluded.append(finding(f"mypy could not analyse this file: {message}", rel, None,
                                            "mypy-blocking", CATEGORY))
    raise CheckCrashed("mypy kept failing with blocking errors")


def _mypy_env() -> dict[str, str]:
    return tool_env({"MYPYPATH": "", "MYPY_FORCE_COLOR": "0"})


def seed_cache(cache: Path) -> bool:
    """Start `cache` as a copy of the warm standard-library cache the sandbox mounted, if any."""
    seed = os.environ.get(SEED_ENV)
    if not seed:
        return False
    try:
        shutil.copytree(Path(seed) / "cache", cache, dirs_exist_ok=True)
    except OSError:  # a missing or unreadable seed only costs time: mypy rebuilds what it lacks
        shutil.rmtree(cache, ignore_errors=True)
        return False
    return True


# --- the check --------------------------------------------------------------------------------------------


def analyse(submission: Path, out: Path, args: argparse.Namespace) -> Report:
    """Metrics, findings and tool versions for one submission."""
    with tempfile.TemporaryDirectory(prefix="grader-typecheck-") as tmp:
        version = tool_version("mypy", Path(tmp))
        tools = {"mypy": version}
        app_files = [item for item in python_files(submission) if is_app_path(item.rel)]
        sources = parse_sources(app_files, feature_version=(3, 11))
        parsed, problems = sources.parsed, sources.problems
        if not parsed:
            message = "no Python application files to type-check" if not problems else \
                "no parsable Python application files to type-check"
            metrics = {**_metrics([], AnnotationStats(), 0, 0), **parse_metrics(sources)}
            return metrics, [*problems, finding(message, rule="no-python-files")], tools
        workspace = build_workspace(parsed, Path(tmp) / "src")
        seed_cache(Path(tmp) / "cache")
        run = run_mypy(workspace, Path(tmp) / "cache")
    analysed = [item for item in parsed if item.source.rel not in run.excluded_files]
    stats = AnnotationStats()
    for item in analysed:
        stats.add(annotation_stats(item.tree))
    lines = sum(item.code_lines for item in analysed)
    findings = sorted([*run.errors, *problems, *run.excluded, *workspace.suppressions], key=importance_key)
    metrics = {**_metrics(run.errors, stats, lines, len(analysed)), **parse_metrics(sources)}
    metrics["suppressions"] = len(workspace.suppressions)
    return metrics, findings, tools


def _metrics(errors: list[FindingDict], stats: AnnotationStats, lines: int, files: int) -> dict[str, float]:
    functions_share = share(stats.annotated_functions, stats.functions)
    parameters_share = share(stats.annotated_parameters, stats.parameters) if stats.parameters else functions_share
    return {
        "errors": len(errors),
        "lines": lines,
        "errors_per_100_lines": round(100.0 * len(errors) / lines, 2) if lines else 0.0,
        "functions": stats.functions,
        "annotated_functions_share": functions_share,
        "annotated_parameters_share": parameters_share,
        "annotation_share": round((functions_share + parameters_share) / 2, 2),
        "files": files,
        "suppressions": 0,
    }


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    return run_main(CHECK_ID, analyse, argv)


if __name__ == "__main__":
    sys.exit(main())
