"""`grader check`: a candidate's own run of the public tests and the static checks before submitting.

It never needs the hidden suite, so it works from an exported kit (`public/` and a public
`challenge.toml`, no `hidden/`). It runs the grading pipeline itself with the public suite in place of
the hidden one: the same intake, environment, static checks, app start and scoring as `grader grade`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from grader.app_log import not_ready_sentence
from grader.challenge import MANIFEST, ChallengeError, has_tests, load_challenge, public_tests_dir
from grader.detect import NO_START_COMMAND
from grader.intake import IntakeError, archive_kind, take_snapshot
from grader.losses import APP_RULE, Loss, rank_losses
from grader.models import PUBLIC_SUITE, Challenge, GradeResult, category_title
from grader.paths import cache_dir
from grader.pipeline import grade_submission, public_suite
from grader.sandbox.base import Sandbox

TOP_FIXES = 5
LOG_LINES = 12

Log = Callable[[str], None]


def load_check_challenge(ref: str | None, submission: Path) -> Challenge:
    """The challenge to check against: an id, a bundle or kit directory, a kit archive, or (no `ref`)
    the nearest `challenge.toml` in the submission's directory or above it (an unpacked kit)."""
    if ref is None:
        found = find_enclosing_manifest(submission)
        if found is None:
            raise ChallengeError(
                f"no {MANIFEST} in {submission} or above it: pass --challenge with the challenge id, "
                "the unpacked kit's directory or the kit's .zip"
            )
        ref = str(found)
    given = Path(ref).expanduser()
    if archive_kind(given) is not None:
        ref = str(unpack_kit(given))
    challenge = load_challenge(ref, require_hidden=False)
    if not has_tests(public_tests_dir(challenge)):
        raise ChallengeError(f"{challenge.root}: public/ holds no test_*.py files, so there is nothing to check")
    return challenge


def find_enclosing_manifest(start: Path) -> Path | None:
    """The nearest directory from `start` upwards that holds a `challenge.toml`."""
    here = start.resolve()
    for directory in (here, *here.parents) if here.is_dir() else here.parents:
        if (directory / MANIFEST).is_file():
            return directory
    return None


def unpack_kit(archive: Path) -> Path:
    """A kit archive unpacked read-only into the cache (with the intake's checks on hostile archives)."""
    try:
        snapshot = take_snapshot(archive, cache_dir("kits"))
    except IntakeError as exc:
        raise ChallengeError(f"{archive}: cannot be opened as a challenge kit: {exc}") from None
    return snapshot.path


def run_check(submission: Path, challenge: Challenge, sandbox: Sandbox, out_root: Path, log: Log) -> GradeResult:
    """Grade `submission` against the public suite; writes `out_root/<name>/result.json`."""
    return grade_submission(submission, challenge, sandbox, out_root, log=log, force=True,
                            suite=public_suite(challenge))


# --- the terminal summary -----------------------------------------------------------------------------------


def top_fixes(result: GradeResult, limit: int = TOP_FIXES) -> list[Loss]:
    """The losses worth the most overall points, largest first: one cause once (the app that did not start
    is one fix, not one per failed test)."""
    problem = ((result.app.problem if result.app else None) or "did not start") if result.did_not_run else None
    return rank_losses(result.checks, result.categories, problem)[:limit]


def fix_text(loss: Loss) -> str:
    """What is wrong, where, and what to do, on one line."""
    where = f" ({loss.where})" if loss.where else ""
    if loss.behaviours:  # public tests: their names and first failure lines help the candidate
        failing = "; ".join(f"{b.name}: {b.message}" for b in loss.behaviours[:3])
        return f"{loss.title}{where}. {failing}"
    return f"{loss.title}{where}: {loss.advice}"


def write_check_report(result: GradeResult, directory: Path) -> Path:
    """The check's HTML report beside its result.json (the candidate copy: it teaches, it never grades)."""
    from grader.report import render_candidate_html

    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "report.html"
    path.write_text(render_candidate_html(result, "candidate"), encoding="utf-8")
    return path


def render_check(result: GradeResult, result_path: Path, console: Console, report: Path | None = None) -> None:
    """The candidate's summary: score, a table per category, the top fixes, and last the report's path
    (`report`, else the result file's)."""
    name = result.submission.name if result.submission else "?"
    if result.status != "graded":
        console.print(f"[red]✗[/] {escape(name)}: not checked: {escape(result.error or '?')}", soft_wrap=True)
        console.print(f"Report: {escape(str(report or result_path))}", soft_wrap=True, highlight=False)
        return
    passed, run = result.test_totals(PUBLIC_SUITE)
    overall = "n/a" if result.overall is None else f"{result.overall:g}/100"
    if result.did_not_run:
        _render_app_problem(result, console)
        console.print(
            f"[bold]{escape(name)}[/]: public score {overall}, with the categories the public tests measure counted "
            f"as 0 (the static checks measured {result.evaluated_weight:g}% of the scorecard); public tests "
            f"{passed}/{run} passed", soft_wrap=True,
        )
    else:
        console.print(
            f"[bold]{escape(name)}[/]: public score {overall} over {result.evaluated_weight:g}% of the scorecard; "
            f"public tests {passed}/{run} passed", soft_wrap=True,
        )
    console.print(category_table(result))
    # the app that did not start was said once, first, with its fix: the list goes on with the other causes
    fixes = [fix for fix in top_fixes(result, TOP_FIXES + 1) if fix.rule != APP_RULE][:TOP_FIXES]
    if fixes:
        console.print("[bold]Top fixes[/] (points of the overall 100 each one is worth):")
        for number, fix in enumerate(fixes, 1):
            console.print(f"  {number}. [green]+{fix.points:.1f}[/] {category_title(fix.category)}: "
                          f"{escape(fix_text(fix))}", soft_wrap=True)
    console.print(
        "[dim]This runs the public tests only: the real grading also runs a larger hidden suite (see the "
        "assignment README).[/]", soft_wrap=True,
    )
    console.print(f"Report: {escape(str(report or result_path))}", soft_wrap=True, highlight=False)


def category_table(result: GradeResult) -> Table:
    """Weight, score and points lost per scorecard category."""
    table = Table(show_edge=False, pad_edge=False, box=None)
    table.add_column("Category")
    table.add_column("Weight", justify="right")
    table.add_column("Score", justify="right")
    table.add_column("Checks")
    for category in result.categories:
        score = f"{category.score:g}" if category.evaluated and category.score is not None else "not measured"
        style = "" if not category.evaluated else ("green" if (category.score or 0) >= 85 else
                                                   "yellow" if (category.score or 0) >= 50 else "red")
        if category.counts_as_zero:
            score, style = "0 (app did not run)", "red"
        checks = ", ".join(sorted({c.split("/")[0] for c in category.checks}))
        table.add_row(category_title(category.id), f"{category.weight:g}%", score, checks, style=style)
    return table


def _render_app_problem(result: GradeResult, console: Console) -> None:
    """The first thing a candidate whose app never became ready reads: ✗, why, what to do, its last output."""
    app = result.app
    problem = (app.problem if app else None) or "did not start"
    console.print(f"[red]✗ Your app did not run:[/] {escape(not_ready_sentence(problem))}. Every public test counts "
                  "as failed.", soft_wrap=True)
    worth = next((fix.points for fix in top_fixes(result) if fix.rule == APP_RULE), None)
    gain = f" (worth [green]+{worth:.1f}[/] points of the overall 100)" if worth else ""
    console.print(f"  fix{gain}: {escape(start_hint(problem))}", soft_wrap=True)
    for line in (app.log_tail if app else "").strip().splitlines()[-LOG_LINES:]:
        console.print(f"  [dim]{escape(line)}[/]", soft_wrap=True)


_DETECTED_SYNTAX_ERROR = re.compile(r"^(?P<where>\S+:\d+) does not parse \(")
_LOGGED_SYNTAX_ERROR = re.compile(
    r"its log says: (?:SyntaxError|IndentationError|TabError): .* \((?P<where>\S+:\d+)\)$")


def syntax_error_place(problem: str) -> str | None:
    """`main.py:12` when the app did not start because of a syntax error there (found by detection or in its log)."""
    match = _DETECTED_SYNTAX_ERROR.match(problem) or _LOGGED_SYNTAX_ERROR.search(problem)
    return match["where"] if match else None


def start_hint(problem: str) -> str:
    """What to do about an app that did not start, in one line."""
    if problem.startswith("no start command"):
        return NO_START_COMMAND
    where = syntax_error_place(problem)
    if where is not None:
        return f"fix the syntax error at {where} (`python -m py_compile` on the file shows it), then check again"
    if problem.startswith("did not start within"):
        return ("listen on $PORT (on 127.0.0.1 or 0.0.0.0) and answer the health path quickly; the app's "
                "last output is below")
    return "it stopped before answering the health path: its last output is below"
