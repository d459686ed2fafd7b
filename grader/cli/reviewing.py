"""`grader review`: a reviewer's adjustment of one category, appended to OUT/reviews.toml with who, when and
why; the submission's report.html is rendered again to show it. The machine's result.json is never rewritten.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from grader.cli.base import main
from grader.cli.console import EXIT_USAGE, escape, fail, friendly_errors, out
from grader.models import CATEGORY_IDS


@main.command()
@click.argument("name")
@click.option("--category", required=True, type=click.Choice(CATEGORY_IDS), help="The category to adjust.")
@click.option("--adjust", required=True, type=click.FloatRange(-100, 100), metavar="POINTS",
              help="Points added to the category's score out of 100 (e.g. +10 or -5; 0 records a note).")
@click.option("--reason", required=True, help="Why, in a sentence: it is shown in the report.")
@click.option("--by", "reviewer", required=True, help="Who makes the adjustment.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("grader-results"),
              show_default=True, help="The grading's output directory (OUT/NAME/result.json).")
@friendly_errors
def review(name: str, category: str, adjust: float, reason: str, reviewer: str, out_dir: Path) -> None:
    """Record a reviewer's adjustment of NAME's CATEGORY score in OUT/reviews.toml and re-render its report."""
    from grader.report import load_results, write_reports
    from grader.results import result_path
    from grader.reviews import Adjustment, ReviewFileError, append_review, load_reviews

    path = result_path(out_dir / name)
    if not path.is_file():
        fail(escape(f"no result for {name!r} in {out_dir}: grade it first, or pass --out with the grading's "
                    "output directory"), EXIT_USAGE)
    [result] = load_results([path])
    if result.submission is None or result.status != "graded":
        fail(escape(f"{name} was not graded ({result.error or 'no score'}): there is no score to adjust"), EXIT_USAGE)
    try:
        existing = load_reviews(out_dir)
        adjustment = Adjustment(submission=result.submission.name, content_hash=result.submission.content_hash,
                                category=category, adjust=adjust, reason=reason, by=reviewer,
                                at=datetime.now(UTC).replace(microsecond=0).isoformat())
    except (ReviewFileError, ValueError) as exc:
        fail(escape(str(exc)), EXIT_USAGE)
    written = append_review(out_dir, adjustment)
    report = write_reports([result], out_dir, ["html"], "reviewer", adjustments=[*existing, adjustment])
    out.print(escape(f"recorded in {written}; report: {report[0]}"), highlight=False, soft_wrap=True)
