"""Grade a cohort: expand folders into submissions, grade them in parallel, show progress, survive Ctrl-C.

- **Input.** Each argument is a submission (a directory, an archive, a git repository) unless it is a
  *cohort folder*: a directory with no `.py` file and no project file (`pyproject.toml`,
  `requirements.txt`, `Pipfile`, `Procfile`, `setup.py`, `setup.cfg`, `manage.py`) and nothing only a
  repository has (`.git`, `.github`, `.gitignore`, a README, Dockerfile, compose file or Makefile) at its
  top level, that holds subdirectories or archives; a monorepo (`backend/`, `frontend/` and a README) is one
  submission, graded from its Python folder (`grader.project`). A cohort folder stands for its
  subdirectories and archives, in name order; archives are what `tarfile` (plain, gz, bz2, xz) and
  `zipfile` read, recognised by content. Every other entry (hidden entries, tool caches such as
  `__pycache__`, plain files, RAR or 7z archives) is *skipped* and listed with its reason
  (`survey_submissions`, `skip_reason`): in the terminal before grading and in the cohort reports. A
  project whose code lives only in a package directory and has no project file at all would read as a
  cohort folder: pass its entries' parent instead, or add a `pyproject.toml`.
- **Names.** Each submission's results go to `OUT/<name>/`. Two submissions with the same name in one
  batch (`a/alice` and `b/alice.zip`) both get a suffix from a hash of their path (`alice-3f9c2a`), the
  same in every run, so neither overwrites the other and re-runs still find their results.
- **Parallelism.** `jobs` gradings run at once in worker threads sharing one sandbox (its Docker client is
  safe to share). Each grading is independent: its own snapshot, output directory and containers. The
  local backend, whose clean-up relies on Ctrl-C reaching the grading's own thread, grades one at a time
  in the calling thread.
- **Failure isolation.** A grading that cannot be graded gets an error `result.json` saying why; an
  unexpected exception in one grading is recorded the same way and the others go on.
- **Cache size.** With a `CacheLimit` (`--cache-max-size`), the cache is fitted to it every few finished
  gradings and at the end (`grader.cache.fit`: least recently used first, nothing used since the oldest
  running grading started).
- **Ctrl-C.** Queued gradings are cancelled, the running ones are told to stop (`GradingHooks.cancel`),
  the sandbox removes every container of this session at once (`Sandbox.abort`), finished results stay.

The rooms: `survey` (the input), `runner` (the batch and its worker threads), `display` (progress).
"""

from grader.bulk.display import LiveDisplay, PlainDisplay, format_seconds, make_display, outcome_text
from grader.bulk.runner import (
    Batch,
    BatchItem,
    CacheLimit,
    Display,
    Runner,
    default_jobs,
    plan_batch,
    run_batch,
)
from grader.bulk.survey import (
    Survey,
    batch_names,
    expand_submissions,
    is_cohort_folder,
    skip_reason,
    skipped_lines,
    survey_submissions,
)

__all__ = [
    "Batch",
    "BatchItem",
    "CacheLimit",
    "Display",
    "LiveDisplay",
    "PlainDisplay",
    "Runner",
    "Survey",
    "batch_names",
    "default_jobs",
    "expand_submissions",
    "format_seconds",
    "is_cohort_folder",
    "make_display",
    "outcome_text",
    "plan_batch",
    "run_batch",
    "skip_reason",
    "skipped_lines",
    "survey_submissions",
]
