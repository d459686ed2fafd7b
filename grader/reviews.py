"""Reviewer overrides with an audit trail: `OUT/reviews.toml`, beside the results, never inside them.

A reviewer's judgement (`grader review NAME --category api_design --adjust +10 --reason ... --by ...`) is
appended to `OUT/reviews.toml` as one `[[review]]` table: the submission's name and content hash, the
category, the adjustment (points of that category's 0-100 score), why, who and when. The file is only ever
appended to, so it is its own audit trail; `result.json` (the machine's judgement) is never rewritten.

Reports show both: the machine's overall score, the adjusted one, and every adjustment with who, when and
why. An adjustment belongs to the submission's content hash: when a re-grading finds different content,
the adjustment is shown flagged ("made on an earlier version") and is not applied.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import Field, ValidationError, field_validator

from grader.models import CATEGORY_IDS, GradeResult, Strict, category_title

REVIEWS_FILE = "reviews.toml"


class ReviewFileError(Exception):
    """`reviews.toml` cannot be read: not TOML, or a review that is not valid."""


class Adjustment(Strict):
    """One reviewer's adjustment of one category of one submission (a `[[review]]` table)."""

    submission: str = Field(min_length=1)
    content_hash: str = Field(min_length=1, description="The submission's content hash when it was reviewed.")
    category: str
    adjust: float = Field(ge=-100, le=100, description="Points added to the category's 0-100 score.")
    reason: str = Field(min_length=1)
    by: str = Field(min_length=1)
    at: str = Field(description="When, as an ISO 8601 UTC time.")

    @field_validator("category")
    @classmethod
    def _known_category(cls, value: str) -> str:
        if value not in CATEGORY_IDS:
            raise ValueError(f"unknown category {value!r}; use one of {list(CATEGORY_IDS)}")
        return value

    @field_validator("reason", "by")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()


def load_reviews(directory: Path) -> list[Adjustment]:
    """The adjustments recorded in `directory/reviews.toml`, in the order they were made (none: empty)."""
    path = directory / REVIEWS_FILE
    if not path.is_file():
        return []
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        return [Adjustment.model_validate(entry) for entry in data.get("review", [])]
    except (tomllib.TOMLDecodeError, ValidationError, TypeError) as exc:
        raise ReviewFileError(f"{path}: cannot be read ({exc}); fix or remove the entry") from None


def append_review(directory: Path, adjustment: Adjustment) -> Path:
    """Append one `[[review]]` table to `directory/reviews.toml` (created when missing); never rewrites it."""
    path = directory / REVIEWS_FILE
    lines = ["", "[[review]]"]
    for key, value in adjustment.model_dump().items():
        lines.append(f"{key} = {_toml_value(value)}")
    with path.open("a", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    load_reviews(directory)  # what was written reads back
    return path


def _toml_value(value: object) -> str:
    """A TOML basic string or number (JSON's escapes are TOML's, once DEL is escaped as well)."""
    if isinstance(value, float | int):
        return repr(float(value))
    return json.dumps(str(value), ensure_ascii=True).replace("\x7f", "\\u007f")


@dataclass(frozen=True)
class ShownAdjustment:
    """An adjustment as a report shows it: applied, or flagged because the submission has changed since."""

    adjustment: Adjustment
    applied: bool

    @property
    def title(self) -> str:
        """The category's title."""
        return category_title(self.adjustment.category)


@dataclass(frozen=True)
class Reviewed:
    """A result with its reviewers' adjustments: the machine's score, the adjusted one, and each adjustment."""

    machine: float | None
    adjusted: float | None
    adjustments: tuple[ShownAdjustment, ...]
    category_scores: dict[str, float]  # category id -> adjusted 0-100 score, for the adjusted categories

    @property
    def flagged(self) -> tuple[ShownAdjustment, ...]:
        """The adjustments made on another version of the submission (not applied)."""
        return tuple(shown for shown in self.adjustments if not shown.applied)


def reviewed(result: GradeResult, adjustments: Sequence[Adjustment]) -> Reviewed | None:
    """This result's adjustments applied to its scores (None when no adjustment names it)."""
    if result.submission is None or result.status != "graded":
        return None
    mine = [a for a in adjustments if a.submission == result.submission.name]
    if not mine:
        return None
    current = result.submission.content_hash
    shown = tuple(ShownAdjustment(a, applied=a.content_hash == current) for a in mine)
    added: dict[str, float] = {}
    for item in shown:
        if item.applied:
            added[item.adjustment.category] = added.get(item.adjustment.category, 0.0) + item.adjustment.adjust
    scores = {c.id: min(100.0, max(0.0, (c.score or 0.0) + added[c.id])) for c in result.categories
              if c.id in added and (c.evaluated or c.counts_as_zero)}
    return Reviewed(machine=result.overall, adjusted=_overall(result, scores), adjustments=shown,
                    category_scores=scores)


def _overall(result: GradeResult, scores: dict[str, float]) -> float | None:
    """The overall score with the adjusted category scores (the weighted mean `scoring` computes)."""
    counted = [c for c in result.categories if c.weight > 0 and (c.evaluated or c.counts_as_zero)]
    weight = sum(c.weight for c in counted)
    if not weight:
        return result.overall
    total = sum(c.weight * scores.get(c.id, c.score or 0.0) for c in counted)
    return round(total / weight, 1)
