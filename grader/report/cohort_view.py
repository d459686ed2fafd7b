"""The cohort report, assembled from many results: the leaderboard's rows, the score distribution, the
category heat map, the entries of cohort folders that were not graded, and the page's one script.
"""

from __future__ import annotations

import base64
import hashlib
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from markupsafe import Markup

from grader.cohort import SkippedEntry
from grader.models import (
    CATEGORY_IDS,
    Bands,
    CategoryScore,
    GradeResult,
    category_title,
)
from grader.paths import resource_dir
from grader.report.charts import profile_chart, score_histogram
from grader.report.facts import Band, challenge_title, display_name, result_band, result_bands


@dataclass(frozen=True)
class CohortRow:
    """One candidate in the cohort report."""

    result: GradeResult
    name: str
    link: str | None
    band: Band
    hidden_passed: int
    hidden_run: int
    scores: dict[str, CategoryScore]


def cohort_rows(results: Sequence[GradeResult], links: Sequence[str | None]) -> list[CohortRow]:
    """Rows for every result, best overall first, errored last."""
    rows = []
    for result, link in zip(results, [*links, *([None] * (len(results) - len(links)))], strict=False):
        passed, run = result.test_totals()
        rows.append(CohortRow(
            result=result, name=display_name(result), link=link, band=result_band(result),
            hidden_passed=passed, hidden_run=run, scores={c.id: c for c in result.categories},
        ))
    return sorted(rows, key=lambda r: (r.result.status != "graded", r.result.did_not_run, -(r.result.overall or -1.0),
                                       r.name))


def cohort_context(
    results: Sequence[GradeResult], links: Sequence[str | None], skipped: Sequence[SkippedEntry] = ()
) -> dict[str, Any]:
    """Everything `cohort.html` needs; `skipped` are the cohort folders' entries that were not graded."""
    rows = cohort_rows(results, links)
    graded = [r for r in rows if r.result.status == "graded"]
    scored = [r.result.overall for r in graded if r.result.overall is not None]
    bands = result_bands(graded[0].result) if graded else Bands()
    band_counts: dict[str, int] = {}
    for row in graded:
        band_counts[row.band.label] = band_counts.get(row.band.label, 0) + 1
    challenges = sorted({challenge_title(r.result) for r in rows})
    categories = _cohort_categories(results)
    return {
        "rows": rows,
        "graded": graded,
        "errored": [r for r in rows if r.result.status != "graded"],
        "not_run": [r for r in rows if r.result.did_not_run],
        "categories": [(cid, category_title(cid)) for cid in categories],
        "profiles": [profile_chart(row.scores, categories) for row in graded],
        "weights": _cohort_weights(results),
        "histogram": score_histogram(scored, bands),
        "bands": bands,
        "band_counts": band_counts,
        "median": statistics.median(scored) if scored else None,
        "best": max(scored) if scored else None,
        "challenges": challenges,
        "local_backend": cohort_local_backend(results),
        "skipped": skipped_rows(skipped),
        "script": Markup(cohort_script()),
        "script_hash": script_hash(cohort_script()),
    }


def cohort_local_backend(results: Sequence[GradeResult]) -> bool:
    """Whether any submission of the cohort was graded with the local backend (not isolated)."""
    return any(result.sandbox is not None and not result.sandbox.isolated for result in results)


@dataclass(frozen=True)
class SkippedRow:
    """An entry of a cohort folder that was not graded, as the cohort reports list it."""

    folder: str  # the folder's own name; the full path is in `path`
    name: str
    path: str
    reason: str


def skipped_rows(skipped: Sequence[SkippedEntry]) -> list[SkippedRow]:
    """The skipped entries, by folder then name."""
    rows = [SkippedRow(Path(e.folder).name, e.name, str(Path(e.folder) / e.name), e.reason) for e in skipped]
    return sorted(rows, key=lambda row: (row.path, row.name))


def _cohort_categories(results: Sequence[GradeResult]) -> list[str]:
    extra = {c.id for r in results for c in r.categories} - set(CATEGORY_IDS)
    return [*CATEGORY_IDS, *sorted(extra)]


def _cohort_weights(results: Sequence[GradeResult]) -> dict[str, float]:
    weights: dict[str, float] = {}
    for result in results:
        for category in result.categories:
            weights.setdefault(category.id, category.weight)
    return weights


def cohort_script() -> str:
    """The leaderboard's sorting and filtering script, as shipped in `reports/cohort.js`."""
    return (resource_dir("reports") / "cohort.js").read_text(encoding="utf-8")


def script_hash(script: str) -> str:
    """The CSP source expression that allows exactly this inline script."""
    digest = hashlib.sha256(script.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"
