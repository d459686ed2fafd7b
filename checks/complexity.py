"""Static check `complexity`: cyclomatic complexity and maintainability index of app code (radon).

Evidence for python_fundamentals (small, readable functions). Runs in the grader's tool image:
`python -m checks.complexity --submission DIR --out DIR`. radon is used through its Python API on syntax
trees this module parsed itself (tests and migrations excluded; files that do not parse are `syntax-error`
findings and count as failing through `parsed_share`). radon reads no configuration from the submission.

Metrics:
- `functions`: functions, methods and nested functions analysed;
- `average_cc`: mean cyclomatic complexity over them (0 when none); `max_cc`: the largest;
- `functions_over_10`: how many have CC > 10 (radon rank C or worse);
- `maintainability_index_avg`: radon's MI (0-100, multi-line strings counted as comments) averaged over
  files, weighted by their non-blank non-comment lines (files without code lines are left out);
- `low_mi_files`: files with MI < 20 (radon rank B or C);
- `files_not_parsed`, `lines_not_parsed`, `parsed_share`: app files that do not parse, their code lines,
  and the % of app code lines that parse (`checks._common.parse_metrics`).

Findings, worst first: every function with CC > 10 ("function `place_order` has cyclomatic complexity 17
(rank C)"), then every file with MI < 20, then files that could not be analysed.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from checks._common import (
    CheckCrashed,
    ParsedFile,
    Report,
    finding,
    is_app_path,
    location_key,
    parse_metrics,
    parse_sources,
    python_files,
    run_main,
)
from checks.formats import FindingDict

CHECK_ID = "complexity"
CATEGORY = "python_fundamentals"
CC_LIMIT = 10
MI_LIMIT = 20.0


@dataclass(frozen=True)
class Block:
    """One function's complexity."""

    file: str
    line: int
    name: str
    complexity: int


@dataclass(frozen=True)
class Radon:
    """The parts of radon's API this check uses."""

    version: str
    complexity_visitor: Any
    cc_rank: Any
    mi_visit: Any
    mi_rank: Any


def load_radon() -> Radon:
    """radon's API, or CheckCrashed when radon is not installed."""
    try:
        radon = importlib.import_module("radon")
        complexity = importlib.import_module("radon.complexity")
        metrics = importlib.import_module("radon.metrics")
        visitors = importlib.import_module("radon.visitors")
    except ImportError as exc:
        raise CheckCrashed(f"radon is not installed: {exc}") from exc
    return Radon(str(radon.__version__), visitors.ComplexityVisitor, complexity.cc_rank, metrics.mi_visit,
                 metrics.mi_rank)


def function_blocks(parsed: ParsedFile, radon: Radon) -> list[Block]:
    """Every function, method and closure of a file with its cyclomatic complexity."""
    visitor = radon.complexity_visitor.from_ast(parsed.tree)
    blocks: list[Block] = []
    for function in visitor.functions:
        _add_function(parsed.source.rel, function, "", blocks)
    for klass in visitor.classes:
        _add_class(parsed.source.rel, klass, "", blocks)
    return blocks


def _add_function(rel: str, function: Any, prefix: str, blocks: list[Block]) -> None:
    name = f"{prefix}{function.name}"
    blocks.append(Block(rel, int(function.lineno), name, int(function.complexity)))
    for closure in function.closures:
        _add_function(rel, closure, f"{name}.", blocks)


def _add_class(rel: str, klass: Any, prefix: str, blocks: list[Block]) -> None:
    name = f"{prefix}{klass.name}."
    for method in klass.methods:
        _add_function(rel, method, name, blocks)
    for inner in klass.inner_classes:
        _add_class(rel, inner, name, blocks)


def maintainability(parsed: ParsedFile, radon: Radon) -> float | None:
    """radon's maintainability index of a file, None when radon cannot compute it."""
    try:
        return float(radon.mi_visit(parsed.text, True))
    except Exception:  # radon fails on odd tokenisation of hostile files: skip the file, don't crash
        return None


def analyse(submission: Path, out: Path, args: argparse.Namespace) -> Report:
    """Metrics, findings and tool versions for one submission."""
    radon = load_radon()
    app_files = [item for item in python_files(submission) if is_app_path(item.rel)]
    sources = parse_sources(app_files)
    parsed, problems = sources.parsed, list(sources.problems)
    blocks: list[Block] = []
    scored_files: list[tuple[ParsedFile, float]] = []
    for item in parsed:
        try:
            blocks.extend(function_blocks(item, radon))
        except (RecursionError, ValueError, AttributeError, TypeError):
            problems.append(finding("radon could not analyse this file", item.source.rel, None,
                                    "complexity-skipped", CATEGORY, "info"))
            continue
        mi = maintainability(item, radon)
        if mi is not None and item.code_lines:
            scored_files.append((item, mi))
    if not parsed and not sources.unparsed:
        problems.append(finding("no Python application files to analyse", rule="no-python-files",
                                severity="info"))
    findings = [*_complexity_findings(blocks, radon), *_mi_findings(scored_files, radon),
                *sorted(problems, key=location_key)]
    metrics = {**complexity_metrics(blocks, scored_files), **parse_metrics(sources)}
    return metrics, findings, {"radon": radon.version}


def _complexity_findings(blocks: list[Block], radon: Radon) -> list[FindingDict]:
    worst = sorted((b for b in blocks if b.complexity > CC_LIMIT), key=lambda b: (-b.complexity, b.file, b.line))
    return [finding(f"function `{b.name}` has cyclomatic complexity {b.complexity} "
                    f"(rank {radon.cc_rank(b.complexity)})", b.file, b.line, "cyclomatic-complexity", CATEGORY)
            for b in worst]


def _mi_findings(scored: list[tuple[ParsedFile, float]], radon: Radon) -> list[FindingDict]:
    low = sorted(((item.source.rel, mi) for item, mi in scored if mi < MI_LIMIT), key=lambda pair: (pair[1], pair[0]))
    return [finding(f"file has maintainability index {mi:.1f} (rank {radon.mi_rank(mi)})", rel, None,
                    "maintainability-index", CATEGORY) for rel, mi in low]


def complexity_metrics(blocks: list[Block], scored: list[tuple[ParsedFile, float]]) -> dict[str, float]:
    """The complexity metrics (see the module docstring)."""
    values = [block.complexity for block in blocks]
    weight = sum(item.code_lines for item, _ in scored)
    mi_avg = sum(mi * item.code_lines for item, mi in scored) / weight if weight else 0.0
    return {
        "functions": len(values),
        "average_cc": round(sum(values) / len(values), 2) if values else 0.0,
        "max_cc": max(values, default=0),
        "functions_over_10": sum(1 for value in values if value > CC_LIMIT),
        "maintainability_index_avg": round(mi_avg, 2),
        "low_mi_files": sum(1 for _, mi in scored if mi < MI_LIMIT),
    }


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    return run_main(CHECK_ID, analyse, argv)


if __name__ == "__main__":
    sys.exit(main())
