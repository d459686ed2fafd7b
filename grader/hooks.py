"""What a batch runner hands one grading: its output name, a cancel flag, and a structured stage callback.

The pipeline reports human-readable lines through its `log` callback; a progress display needs the
stage too, without parsing those lines. `GradingHooks` carries both ways of talking to a caller that
grades many submissions at once (see `grader.bulk`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal

# intake: snapshot, dependencies, start command; environment: wheels and images (or venv); static checks: the
# grader's tools (mypy, ruff, radon, practices); tests: the candidate's own tests under coverage; app: the
# app's start-up and the hidden suite against it (one sandbox run, so the two are one stage).
Stage = Literal["intake", "environment", "static checks", "tests", "app"]
# A listener hears `(stage, True)` when a stage starts and `(stage, False)` when it ends. Stages may
# overlap: the static checks, the candidate's tests and the app run at the same time on Docker.
StageListener = Callable[[Stage, bool], None]
detail = logging.getLogger(__name__)  # `grader -v` shows these lines


class GradingCancelled(Exception):
    """The batch was interrupted (Ctrl-C): this grading stops and writes no result."""


def _ignore_stage(_stage: Stage, _active: bool) -> None:
    pass


@dataclass
class GradingHooks:
    """Optional per-grading settings a batch runner passes to `grade_submission`."""

    name: str | None = None  # output directory name; None: derived from the submission
    cancel: threading.Event = field(default_factory=threading.Event)
    on_stage: StageListener = _ignore_stage
    reused: bool = False  # set by the pipeline when an unchanged earlier result was returned

    def checkpoint(self) -> None:
        """Raise GradingCancelled when the batch was interrupted; called between the pipeline's steps."""
        if self.cancel.is_set():
            raise GradingCancelled("the grading was cancelled")

    @contextmanager
    def stage(self, stage: Stage) -> Iterator[None]:
        """Report `stage` as running for the duration of the block, then check for cancellation."""
        self.on_stage(stage, True)
        started = time.monotonic()
        try:
            yield
        finally:
            self.on_stage(stage, False)
            detail.debug("%s: %s took %.1f s", self.name or "grading", stage, time.monotonic() - started)
        self.checkpoint()
