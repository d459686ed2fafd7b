"""Static check `lint`: ruff with a grader-chosen rule set, each rule mapped to one scorecard category.

Runs in the grader's tool image: `python -m checks.lint --submission DIR --out DIR`.

ruff runs with `--config checks/config/ruff.toml` (which puts ruff in "fixed configuration" mode: the
candidate's pyproject.toml / ruff.toml / setup.cfg are never read), `--select` built from `RULES` below,
`--ignore-noqa` (a candidate's `# noqa` and `# ruff: noqa` comments are not honoured), `--no-cache`, and
`--output-format json`, on an explicit list of files. Migrations are never linted. App code gets every
rule; test code only the rules marked `tests` (an `assert`, a hard-coded password or a `print` in a test
is not a fault). Rules the installed ruff does not know are left out (and listed in the `tools` entry
`ruff-unknown-rules`) instead of making ruff fail. Files that do not parse are not given to ruff: each is a
`syntax-error` finding (python_fundamentals) with the parser's line and message, and they count as failing
through `files_not_parsed`, `lines_not_parsed` and `parsed_share` (see `checks._common.parse_metrics`).

S105 ("hard-coded password string") also fires on comparisons (`if OVERRIDE_TOKEN_EXPIRATION == "TRUE":`);
those read a setting and hard-code nothing, so S105 on a line whose string literals are only compared is
dropped. A hard-coded secret the practices check also finds at the same file:line is counted once, by the
host's scoring (grader/scoring.py), under `practices.secrets_found`.

Rule -> category table (`RULES`): see the table in the code; in short
- python_fundamentals: error handling (E722, BLE001, S110, S112, B904, B012), mutable or shared defaults
  (B006), dead or wrong code (F401, F403, F811, F821, F841, F632, B018, PIE794), comparisons (E711,
  E712, E721), closures and globals (B023, PLW0603), resources (SIM115), async misuse (ASYNC*, RUF006),
  shadowed builtins (A001);
- observability: print/pprint (T201, T203), logging practice (TRY400, TRY401, LOG*, G*, PLE1205/6);
- infrastructure: secrets and security (S105-S107, S602/S604/S605, S608, S301, S506, S307, S102, S324,
  S501, S113, S201, S701, S612, T100).

Metrics: `lines` (non-blank, non-comment lines of every linted file), `findings_total`, and per category
C in python_fundamentals, observability, infrastructure: `C_findings` (ruff's findings: syntax errors are
counted by the parse metrics only) and `C_per_kloc` (findings per 1000
lines of the files that category's rules ran on: app + tests for python_fundamentals, app only for the
others); `files_not_parsed`, `lines_not_parsed` and `parsed_share` over every linted file (app + tests).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from checks._common import (
    CheckCrashed,
    ParsedFile,
    Report,
    compared_literal_lines,
    finding,
    importance_key,
    is_migration_path,
    is_test_path,
    one_line,
    parse_metrics,
    parse_sources,
    per_kloc,
    python_files,
    python_tool,
    run_main,
    tool_version,
)
from checks.formats import FindingDict

CHECK_ID = "lint"
FUNDAMENTALS = "python_fundamentals"
OBSERVABILITY = "observability"
INFRASTRUCTURE = "infrastructure"
LINT_CATEGORIES = (FUNDAMENTALS, OBSERVABILITY, INFRASTRUCTURE)
CONFIG = Path(__file__).resolve().parent / "config" / "ruff.toml"
SYNTAX_ERROR = "syntax-error"
RUFF_TIMEOUT_S = 45.0
MAX_ARGV_FILES = 400  # files per ruff invocation (keeps the command line short)

# code: (category, also on tests, why it matters)
RULES: dict[str, tuple[str, bool, str]] = {
    # python_fundamentals: exception handling
    "E722": (FUNDAMENTALS, True, "bare `except:`"),
    "BLE001": (FUNDAMENTALS, False, "catching blind `Exception`"),
    "S110": (FUNDAMENTALS, False, "`try`/`except`/`pass` swallows errors"),
    "S112": (FUNDAMENTALS, False, "`try`/`except`/`continue` swallows errors"),
    "B904": (FUNDAMENTALS, False, "`raise` inside `except` without `from`"),
    "B012": (FUNDAMENTALS, True, "`return`/`break` in `finally` swallows exceptions"),
    # python_fundamentals: defaults and shared state
    "B006": (FUNDAMENTALS, True, "mutable default argument"),
    "B023": (FUNDAMENTALS, True, "closure uses the loop variable"),
    "PLW0603": (FUNDAMENTALS, False, "`global` statement"),
    "A001": (FUNDAMENTALS, False, "variable shadows a builtin"),
    # python_fundamentals: dead or wrong code
    "F401": (FUNDAMENTALS, True, "unused import"),
    "F403": (FUNDAMENTALS, True, "`from module import *`"),
    "F811": (FUNDAMENTALS, True, "redefinition of an unused name"),
    "F821": (FUNDAMENTALS, True, "undefined name"),
    "F841": (FUNDAMENTALS, True, "unused local variable"),
    "F632": (FUNDAMENTALS, True, "`is` comparison with a literal"),
    "B018": (FUNDAMENTALS, True, "useless expression"),
    "PIE794": (FUNDAMENTALS, True, "class field defined twice"),
    "E711": (FUNDAMENTALS, True, "comparison to `None` with `==`"),
    "E712": (FUNDAMENTALS, True, "comparison to `True`/`False` with `==`"),
    "E721": (FUNDAMENTALS, True, "type comparison with `==`"),
    # python_fundamentals: resources and async
    "SIM115": (FUNDAMENTALS, False, "file opened without a context manager"),
    "ASYNC210": (FUNDAMENTALS, False, "blocking HTTP call in `async def`"),
    "ASYNC212": (FUNDAMENTALS, False, "blocking httpx call in `async def`"),
    "ASYNC220": (FUNDAMENTALS, False, "blocking subprocess in `async def`"),
    "ASYNC221": (FUNDAMENTALS, False, "blocking subprocess in `async def`"),
    "ASYNC222": (FUNDAMENTALS, False, "blocking process wait in `async def`"),
    "ASYNC230": (FUNDAMENTALS, False, "blocking `open()` in `async def`"),
    "ASYNC251": (FUNDAMENTALS, False, "`time.sleep()` in `async def`"),
    "RUF006": (FUNDAMENTALS, False, "dangling `asyncio.create_task`"),
    # observability
    "T201": (OBSERVABILITY, False, "`print` instead of logging"),
    "T203": (OBSERVABILITY, False, "`pprint` instead of logging"),
    "TRY400": (OBSERVABILITY, False, "`logging.error` in `except` loses the traceback"),
    "TRY401": (OBSERVABILITY, False, "redundant exception object in `logging.exception`"),
    "LOG001": (OBSERVABILITY, False, "logger built directly instead of `getLogger`"),
    "LOG002": (OBSERVABILITY, False, "`getLogger(__file__)` instead of `__name__`"),
    "LOG007": (OBSERVABILITY, False, "`exception()` with `exc_info=False`"),
    "LOG009": (OBSERVABILITY, False, "undocumented `logging.WARN`"),
    "LOG014": (OBSERVABILITY, False, "`exc_info` outside an exception handler"),
    "LOG015": (OBSERVABILITY, False, "call on the root logger"),
    "G001": (OBSERVABILITY, False, "logging message built with `str.format`"),
    "G002": (OBSERVABILITY, False, "logging message built with `%`"),
    "G003": (OBSERVABILITY, False, "logging message built with `+`"),
    "G004": (OBSERVABILITY, False, "logging message built with an f-string"),
    "G010": (OBSERVABILITY, False, "deprecated `logging.warn`"),
    "G201": (OBSERVABILITY, False, "`error(..., exc_info=True)` instead of `exception()`"),
    "G202": (OBSERVABILITY, False, "redundant `exc_info` in `exception()`"),
    "PLE1205": (OBSERVABILITY, False, "too many arguments for the logging format"),
    "PLE1206": (OBSERVABILITY, False, "too few arguments for the logging format"),
    # infrastructure: secrets, security, production readiness
    "S105": (INFRASTRUCTURE, False, "hard-coded password string"),
    "S106": (INFRASTRUCTURE, False, "hard-coded password argument"),
    "S107": (INFRASTRUCTURE, False, "hard-coded password default"),
    "S602": (INFRASTRUCTURE, False, "subprocess with `shell=True`"),
    "S604": (INFRASTRUCTURE, False, "call with `shell=True`"),
    "S605": (INFRASTRUCTURE, False, "process started with a shell (`os.system`)"),
    "S608": (INFRASTRUCTURE, False, "SQL built by string formatting (injection)"),
    "S301": (INFRASTRUCTURE, False, "`pickle` on untrusted data"),
    "S506": (INFRASTRUCTURE, False, "unsafe `yaml.load`"),
    "S307": (INFRASTRUCTURE, False, "`eval`"),
    "S102": (INFRASTRUCTURE, False, "`exec`"),
    "S324": (INFRASTRUCTURE, False, "insecure hash function"),
    "S501": (INFRASTRUCTURE, False, "TLS certificate verification disabled"),
    "S113": (INFRASTRUCTURE, False, "HTTP request without a timeout"),
    "S201": (INFRASTRUCTURE, False, "Flask `debug=True`"),
    "S701": (INFRASTRUCTURE, False, "Jinja2 autoescape disabled"),
    "S612": (INFRASTRUCTURE, False, "insecure logging config listener"),
    "T100": (INFRASTRUCTURE, False, "debugger left in the code"),
}


def known_rules(cwd: Path) -> set[str]:
    """Rule codes the installed ruff knows (`ruff rule --all`)."""
    result = python_tool("ruff", ["rule", "--all", "--output-format", "json"], cwd, RUFF_TIMEOUT_S)
    try:
        return {str(rule["code"]) for rule in json.loads(result.stdout)}
    except (ValueError, TypeError, KeyError) as exc:
        raise CheckCrashed(f"cannot list ruff's rules: {one_line(result.stderr or str(exc), 200)}") from exc


def run_ruff(files: Sequence[ParsedFile], codes: Sequence[str], cwd: Path) -> list[dict[str, Any]]:
    """ruff's JSON diagnostics for `files` with exactly the rules `codes`."""
    diagnostics: list[dict[str, Any]] = []
    for start in range(0, len(files), MAX_ARGV_FILES):
        chunk = [str(item.source.path) for item in files[start:start + MAX_ARGV_FILES]]
        args = ["check", "--config", str(CONFIG), "--select", ",".join(sorted(codes)), "--ignore-noqa",
                "--no-cache", "--no-fix", "--output-format", "json", "--exit-zero", "--quiet", "--", *chunk]
        result = python_tool("ruff", args, cwd, RUFF_TIMEOUT_S)
        if result.timed_out:
            raise CheckCrashed(f"ruff timed out after {RUFF_TIMEOUT_S:.0f}s")
        if result.returncode != 0:
            raise CheckCrashed(f"ruff failed (exit {result.returncode}): {one_line(result.stderr, 200)}")
        try:
            diagnostics.extend(json.loads(result.stdout or "[]"))
        except ValueError as exc:
            raise CheckCrashed(f"ruff wrote unreadable JSON: {exc}") from exc
    return diagnostics


def to_findings(diagnostics: list[dict[str, Any]], files: Sequence[ParsedFile]) -> list[FindingDict]:
    """Findings for the diagnostics of known rules, with submission-relative paths."""
    by_path = {str(item.source.path): item.source.rel for item in files}
    findings: list[FindingDict] = []
    for item in diagnostics:
        code = str(item.get("code") or "")
        rel = by_path.get(str(item.get("filename")))
        if code not in RULES or rel is None:
            continue
        line = (item.get("location") or {}).get("row")
        findings.append(finding(str(item.get("message", code)), rel, line if isinstance(line, int) else None,
                                code, RULES[code][0]))
    return findings


def without_literal_comparisons(diagnostics: list[dict[str, Any]],
                                 files: Sequence[ParsedFile]) -> list[dict[str, Any]]:
    """The diagnostics without S105 on lines where a string literal is only compared, not hard-coded."""
    flagged = {str(item.get("filename")) for item in diagnostics if item.get("code") == "S105"}
    compared = {str(item.source.path): compared_literal_lines(item.tree) for item in files
                if str(item.source.path) in flagged}
    return [item for item in diagnostics
            if item.get("code") != "S105"
            or (item.get("location") or {}).get("row") not in compared.get(str(item.get("filename")), set())]


def analyse(submission: Path, out: Path, args: argparse.Namespace) -> Report:
    """Metrics, findings and tool versions for one submission."""
    with tempfile.TemporaryDirectory(prefix="grader-lint-") as tmp:
        cwd = Path(tmp)
        tools = {"ruff": tool_version("ruff", cwd)}
        known = known_rules(cwd)
        unknown = sorted(set(RULES) - known)
        if unknown:
            tools["ruff-unknown-rules"] = ",".join(unknown)
        candidates = [item for item in python_files(submission) if not is_migration_path(item.rel)]
        sources = parse_sources(candidates)
        parsed = sources.parsed
        app = [item for item in parsed if not is_test_path(item.source.rel)]
        tests = [item for item in parsed if is_test_path(item.source.rel)]
        app_codes = [code for code in RULES if code in known]
        test_codes = [code for code in app_codes if RULES[code][1]]
        diagnostics = run_ruff(app, app_codes, cwd) if app else []
        diagnostics += run_ruff(tests, test_codes, cwd) if tests else []
    diagnostics = without_literal_comparisons(diagnostics, parsed)
    findings = sorted([*sources.problems, *to_findings(diagnostics, parsed)], key=importance_key)
    if not parsed and not sources.unparsed:
        findings.append(finding("no Python files to lint", rule="no-python-files", severity="info"))
    return {**lint_metrics(findings, app, tests), **parse_metrics(sources)}, findings, tools


def lint_metrics(findings: list[FindingDict], app: list[ParsedFile], tests: list[ParsedFile]) -> dict[str, float]:
    """The lint metrics (see the module docstring)."""
    app_lines = sum(item.code_lines for item in app)
    test_lines = sum(item.code_lines for item in tests)
    metrics: dict[str, float] = {"lines": app_lines + test_lines, "findings_total": 0}
    for category in LINT_CATEGORIES:
        # a syntax error is counted once, by `files_not_parsed` and `parsed_share`, not as a lint finding too
        count = sum(1 for item in findings if item.get("category") == category
                    and item.get("severity") != "info" and item.get("rule") != SYNTAX_ERROR)
        lines = app_lines + test_lines if category == FUNDAMENTALS else app_lines
        metrics[f"{category}_findings"] = count
        metrics[f"{category}_per_kloc"] = per_kloc(count, lines)
        metrics["findings_total"] += count
    return metrics


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    return run_main(CHECK_ID, analyse, argv)


if __name__ == "__main__":
    sys.exit(main())
