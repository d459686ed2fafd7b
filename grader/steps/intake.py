"""The intake step: snapshot the submission, then read its project (folder, dependencies, how to start it)."""

from __future__ import annotations

import time

from grader.cache import snapshots_dir, touch
from grader.detect import detect_app
from grader.environments import as_of_finding, read_declared
from grader.intake import Snapshot, take_snapshot
from grader.models import Finding
from grader.project import find_project_root
from grader.similarity.store import SubmissionPrints, cached_fingerprints
from grader.steps.records import GradingRequest, Intake, Taken


def take(request: GradingRequest) -> Taken:
    """A read-only snapshot of the submission in the store (IntakeError refuses it)."""
    started = time.monotonic()
    request.log(f"{request.source}: taking a snapshot")
    snapshot = take_snapshot(request.source, snapshots_dir())
    touch(snapshot.path)  # last use, for `grader cache prune`
    return Taken(snapshot, started, _fingerprints(request, snapshot))


def _fingerprints(request: GradingRequest, snapshot: Snapshot) -> SubmissionPrints | None:
    """The snapshot's fingerprints for comparing the cohort (docs/similarity.md); None when they cannot be made,
    which leaves this submission out of the comparison and never fails its grading."""
    settings = request.challenge.similarity
    try:
        return cached_fingerprints(snapshot.path, snapshot.content_hash, settings.k, settings.window)
    except (OSError, ValueError, RecursionError) as exc:
        request.log(f"{request.source}: fingerprints for the similarity comparison could not be made: {exc}")
        return None


def read_project(request: GradingRequest, taken: Taken) -> Intake:
    """The project's folder in the snapshot, its declared dependencies and the app's start command."""
    snapshot = taken.snapshot
    project = find_project_root(snapshot.path, request.options.root)
    project_dir = project.path(snapshot.path)
    declared = read_declared(project_dir, snapshot.dated, snapshot.dated_by, request.options.resolve_as_of)
    app_spec = detect_app(project_dir, declared.main.requirements or (
        declared.lock.main_requirements() if declared.lock else ()))
    dated = as_of_finding(declared)
    in_project = [*declared.findings, *([dated] if dated else []), *app_spec.findings]
    findings = (*snapshot.findings, *project.findings, *(_in_folder(f, project.rel) for f in in_project))
    return Intake(taken, project, declared, app_spec, findings, round(time.monotonic() - taken.started, 3))


def _in_folder(finding: Finding, rel: str) -> Finding:
    """A finding about a project file, its path made relative to the submission (monorepos)."""
    if rel == "." or finding.file is None:
        return finding
    return finding.model_copy(update={"file": f"{rel}/{finding.file}"})
