"""`grader similarity OUT_DIR`: compare a graded cohort's submissions again, from their stored fingerprints."""

from __future__ import annotations

from pathlib import Path

import click

from grader.challenge import ChallengeError, load_challenge
from grader.cli.base import complete_challenge, main
from grader.cli.console import EXIT_USAGE, err, escape, fail, friendly_errors, out, progress
from grader.models import Challenge, SimilaritySettings
from grader.outdir import check_output_dir
from grader.results import ResultFileError


@main.command()
@click.argument("out_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--against", "against", default=None, metavar="DIR_OR_RESULTS",
              type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Also compare with a reference corpus: an earlier OUT directory, or a folder of solutions "
                   "(one per subfolder).")
@click.option("--threshold", type=click.FloatRange(0, 1, min_open=True), default=None, metavar="SHARE",
              help="Flag a pair when either one has at least this share of its code in the other "
                   "(default: the challenge's [similarity] threshold, 0.5).")
@click.option("--challenge", "challenge_ref", default=None, shell_complete=complete_challenge,
              help="Challenge id or bundle path, for its starter files and settings (default: the one the "
                   "results name).")
@friendly_errors
def similarity(out_dir: Path, against: Path | None, threshold: float | None, challenge_ref: str | None) -> None:
    """Compare the submissions graded into OUT_DIR; write OUT_DIR/similarity.json and the pair pages.

    Similarity is a reason to look at two submissions side by side, never a verdict.
    """
    from grader.report.similarity_pages import write_similarity_pages
    from grader.similarity.cohort import compare_out_dir, recorded_challenge_id, write_similarity

    check_output_dir(out_dir)
    try:
        challenge = _challenge(challenge_ref or recorded_challenge_id(out_dir), explicit=challenge_ref is not None)
    except ResultFileError as exc:
        fail(escape(str(exc)), EXIT_USAGE)
    settings = challenge.similarity if challenge else SimilaritySettings()  # type: ignore[call-arg]
    if threshold is not None:
        settings = settings.model_copy(update={"threshold": threshold})
    comparison, left_out = compare_out_dir(out_dir, challenge, settings, against)
    for line in left_out:
        err.print(f"[yellow]left out:[/] {escape(line)}", markup=True, soft_wrap=True)
    written = [write_similarity(out_dir, comparison, left_out), *write_similarity_pages(out_dir, comparison)]
    flagged = comparison.flagged()
    progress(f"compared {len(comparison.evidence)} submission(s): {len(flagged)} pair(s) at or over "
             f"{settings.threshold:.0%} shared code, worth a look side by side")
    for pair in flagged:
        out.print(escape(f"{pair.a}  {pair.b}  {pair.score_a:.0%} / {pair.score_b:.0%}"), highlight=False)
    progress(f"wrote {written[0]} and {len(written) - 1} page(s)")


def _challenge(ref: str | None, explicit: bool) -> Challenge | None:
    """The challenge to take the starter and settings from; without one, nothing is excluded but boilerplate."""
    if ref is None:
        return None
    try:
        return load_challenge(ref, require_hidden=False)
    except ChallengeError as exc:
        if explicit:
            fail(escape(str(exc)), EXIT_USAGE)
        err.print(f"[yellow]warning:[/] the challenge {escape(ref)} the results name cannot be loaded, so its "
                  "starter files are not excluded; pass --challenge", markup=True, soft_wrap=True)
        return None
