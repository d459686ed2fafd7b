"""Every adversarial case through the Docker backend, in one batch with the reference solutions.

One module-scoped batch grades every case of the corpus (directory cases and hostile archives) followed by
the references and the honest base of the tampering cases; the references and the base are then graded
again alone. Each test below asserts one expectation of README.md's table on that batch: what the result
names, that no hidden verdict moved, that nothing outside the sandbox changed and nothing was left behind.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from grader.challenge import load_challenge
from grader.intake.files import _hash_existing
from grader.models import Challenge, GradeResult
from grader.paths import cache_dir, cache_root
from grader.pipeline import grade_submission
from grader.report import render_candidate_html
from grader.sandbox.docker import DockerSandbox

from .corpus import (
    ADVERSARIAL_LIMITS,
    HONEST_BASE,
    INTAKE_ATTACKS,
    REFERENCES,
    SOLUTIONS,
    Case,
    ContainerRecord,
    RecordingClient,
    Substitutions,
    adversarial_challenge,
    build_submission,
    changed_entries,
    directory_symlink_to_host_file,
    hidden_scores,
    hidden_verdicts,
    load_cases,
    probe_verdicts,
    processes_in_containers,
    processes_with,
    session_cache,
    sha256,
    stat_map,
)

pytestmark = [pytest.mark.docker, pytest.mark.slow]

CASES = load_cases()
HONEST = (*REFERENCES, HONEST_BASE)
INTAKE = (*INTAKE_ATTACKS, "directory-symlink-out-of-tree")
LIMITS = ADVERSARIAL_LIMITS
LOG_LINE_SLACK = 32 * 1024  # Docker splits log lines at 16 KiB; JSON encoding adds to each


@dataclass
class Graded:
    """One grading of the batch and what the test saw around it."""

    result: GradeResult
    containers: list[ContainerRecord]
    cache_changes: list[str]


@dataclass
class Batch:
    challenge: Challenge
    subs: Substitutions
    canary: Path
    canary_digest: str
    out: Path
    batch: dict[str, Graded] = field(default_factory=dict)
    alone: dict[str, Graded] = field(default_factory=dict)
    leftovers: list[str] = field(default_factory=list)
    log: list[str] = field(default_factory=list)


def grade_all(sources: list[Path], batch: Batch, client: RecordingClient, out: Path) -> dict[str, Graded]:
    """Grade `sources` in order with one sandbox, as `grader grade a b c ...` does."""
    sandbox = DockerSandbox(python=batch.challenge.python, client=client, log=batch.log.append)
    graded = {}
    for source in sources:
        before, first = stat_map(cache_root()), len(client.records)
        result = grade_submission(source, batch.challenge, sandbox, out, log=batch.log.append, force=True)
        name = result.submission.name if result.submission else source.name.split(".")[0]
        graded[name] = Graded(result, client.records[first:], changed_entries(before, stat_map(cache_root())))
    return graded


@pytest.fixture(scope="module")
def corpus_batch(docker_client: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Batch]:
    with session_cache(tmp_path_factory):
        yield grade_corpus(docker_client, tmp_path_factory.mktemp("adversarial"))


def grade_corpus(docker_client: Any, root: Path) -> Batch:
    """Grade the whole corpus and the honest submissions in one batch, then the honest ones alone."""
    canary = root / "host-canary.txt"
    canary.write_text(f"canary {uuid.uuid4()}\n")
    token = f"HIDDEN-CANARY-{uuid.uuid4().hex}"
    challenge = load_challenge(str(adversarial_challenge(root, token)))
    subs = Substitutions(host_canary=canary, grader_cache=cache_root())
    batch = Batch(challenge, subs, canary, sha256(canary), root / "batch")
    archives = root / "archives"
    archives.mkdir()
    sources = [build_submission(case, root / "submissions", subs) for case in CASES]
    sources += [builder(archives) for builder, _ in INTAKE_ATTACKS.values()]
    sources.append(directory_symlink_to_host_file(archives, canary))
    honest = [SOLUTIONS / name for name in HONEST]
    client = RecordingClient(docker_client)
    batch.batch = grade_all(sources + honest, batch, client, batch.out)
    for name in HONEST:  # each alone: its own sandbox, its own output
        batch.alone.update(grade_all([SOLUTIONS / name], batch, RecordingClient(docker_client), root / name))
    batch.leftovers = client.leftovers(docker_client)
    return batch


def graded(batch: Batch, name: str) -> Graded:
    assert name in batch.batch, f"{name} missing from the batch: {sorted(batch.batch)}"
    return batch.batch[name]


# --- every directory case -----------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case_result_names_what_happened(corpus_batch: Batch, case: Case) -> None:
    result = graded(corpus_batch, case.name).result
    expect = case.expect
    assert result.status == expect["status"], result.error
    app = result.app
    assert app is not None
    assert app.started == expect["started"], (app.problem, app.log_tail[-800:])
    assert set(expect.get("limits_hit", [])) <= set(app.limits_hit), app.limits_hit
    assert app.oom_killed == expect.get("oom_killed", False)
    for words in expect.get("problem_contains", []):
        assert app.problem is not None and words in app.problem, app.problem
    if "log_truncated" in expect:
        assert app.log_truncated == expect["log_truncated"]
    assert app.log_cap_bytes == LIMITS.log_bytes, "the output cap is stated in every Docker result"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case_runs_under_the_challenges_limits(corpus_batch: Batch, case: Case) -> None:
    """The challenge's short limits are the ones applied; the limit that stopped a case is in its result
    (`test_case_result_names_what_happened`). How long a grading takes is the benchmark's business."""
    result = graded(corpus_batch, case.name).result
    assert result.sandbox is not None and result.sandbox.limits == LIMITS


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case_hidden_verdicts_are_the_honest_ones(corpus_batch: Batch, case: Case) -> None:
    result = graded(corpus_batch, case.name).result
    mode = case.expect.get("hidden")
    if mode == "same-as-base":
        base = corpus_batch.alone[case.base or HONEST_BASE].result
        assert hidden_verdicts(result) == hidden_verdicts(base)
        assert hidden_scores(result) == hidden_scores(base)
        metrics = {name for check in result.checks for name in check.metrics}
        assert "tampered" not in metrics, "a forged report was read"
    elif mode == "all-failed":
        verdicts = hidden_verdicts(result)
        assert verdicts and all(v in ("failed", "error") for v in verdicts.values()), verdicts
        messages = [t.message or "" for c in result.checks for t in c.tests]
        assert any("time limit" in m for m in messages), "the suite's time limit is named"
    if case.expect.get("probe") == "passed":
        probes = probe_verdicts(result)
        ran = {k: v for k, v in probes.items() if v != "skipped"}
        assert ran and set(ran.values()) == {"passed"}, [
            (t.name, t.message) for c in result.checks for t in c.tests if "adversarial_probe" in t.nodeid]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case_changes_nothing_outside_the_sandbox(corpus_batch: Batch, case: Case) -> None:
    entry = graded(corpus_batch, case.name)
    assert entry.cache_changes == [], "the grader's cache was changed"
    assert sha256(corpus_batch.canary) == corpus_batch.canary_digest, "the host canary was changed"
    result = entry.result
    assert result.submission is not None
    snapshot = cache_dir("snapshots") / f"{result.submission.name}-{result.submission.content_hash[7:19]}"
    assert _hash_existing(snapshot) == result.submission.content_hash, "the snapshot was changed"
    for record in entry.containers:
        assert record.network_mode == "none" or record.network_mode.startswith("container:"), record
        assert not record.port_bindings, record
        assert set(record.mount_types) <= {"bind", "volume"}, f"{record.name} mounts {record.mount_types}"
        for volume, target in record.volumes:  # only the run's own data dir, held by its pod and used by its app
            assert (volume, target) == (f"grader-{record.run_id}-data", "/data"), f"{record.name} mounts {volume}"
            assert record.role in ("pod", "app"), f"{record.name} mounts the data volume"
        if record.role == "app":  # json-file rotates after the write that crosses max-size: one line over
            assert record.max_log_bytes <= LIMITS.log_bytes + LOG_LINE_SLACK, f"the log grew to {record.max_log_bytes}"
    if case.expect.get("survivor_mark"):
        assert processes_with(f"sleep {corpus_batch.subs.run_mark}") == []


def test_nothing_is_left_behind(corpus_batch: Batch) -> None:
    assert corpus_batch.leftovers == []
    ids = [r.id for entry in (*corpus_batch.batch.values(), *corpus_batch.alone.values()) for r in entry.containers]
    assert ids and processes_in_containers(ids) == [], "a process of a removed container is still running"
    assert sha256(corpus_batch.canary) == corpus_batch.canary_digest


def test_the_output_cap_is_stated_in_the_report(corpus_batch: Batch) -> None:
    result = graded(corpus_batch, "stdout-flood").result
    html = render_candidate_html(result)
    assert f"capped at {LIMITS.log_bytes // 1024} KiB" in html and "truncated" in html


def test_tampering_reaches_no_other_check(corpus_batch: Batch) -> None:
    """Forged static reports land only in the candidate job's own output dir and are never read."""
    base = corpus_batch.alone[HONEST_BASE].result
    for case in (c for c in CASES if c.expect["kind"] == "tampering"):
        result = graded(corpus_batch, case.name).result
        assert result.overall is not None and base.overall is not None
        assert result.overall < 100
        for check in result.checks:
            assert "tampered" not in check.metrics, (case.name, check.id)
        hidden = {c.id for c in result.checks if c.id.startswith("hidden-tests/")}
        assert hidden == {c.id for c in base.checks if c.id.startswith("hidden-tests/")}
        kept = {p.name for p in (corpus_batch.out / case.name / "static" / "candidate").iterdir()}
        assert kept <= {"candidate_tests.json", "candidate_tests.run.json"}, kept


def test_requirements_attacks_are_reported_and_never_run(corpus_batch: Batch) -> None:
    result = graded(corpus_batch, "requirements-attack").result
    assert result.submission is not None
    ignored = [f for f in result.submission.findings if f.rule == "deps.ignored"]
    case = next(c for c in CASES if c.name == "requirements-attack")
    assert len(ignored) >= case.expect["ignored_requirements"], [f.message for f in ignored]
    assert result.submission.requirements == []
    assert sha256(corpus_batch.canary) == corpus_batch.canary_digest


# --- intake attacks (hostile archives and trees) -------------------------------------------------------


@pytest.mark.parametrize("name", INTAKE)
def test_intake_attack_is_refused_with_the_reason(corpus_batch: Batch, name: str) -> None:
    entry = graded(corpus_batch, name)
    reason = INTAKE_ATTACKS[name][1] if name in INTAKE_ATTACKS else "points outside the submission"
    assert entry.result.status == "error"
    assert entry.result.error is not None and reason in entry.result.error, entry.result.error
    assert entry.containers == [], "nothing may run for a refused submission"
    assert entry.cache_changes == []
    leaked = [p for p in cache_dir("snapshots").iterdir() if p.name.lstrip(".").startswith(name)]
    assert leaked == [], "a refused submission left a snapshot"


# --- batch isolation ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", HONEST)
def test_honest_submissions_are_graded_in_the_batch_exactly_as_alone(corpus_batch: Batch, name: str) -> None:
    in_batch, alone = graded(corpus_batch, name).result, corpus_batch.alone[name].result
    assert in_batch.status == alone.status == "graded", (in_batch.error, alone.error)
    assert hidden_verdicts(in_batch, include_probe=True) == hidden_verdicts(alone, include_probe=True)
    assert hidden_scores(in_batch) == hidden_scores(alone)
    assert [(c.id, c.score) for c in in_batch.categories] == [(c.id, c.score) for c in alone.categories]
    assert in_batch.overall == alone.overall


@pytest.mark.parametrize("name", REFERENCES)
def test_references_pass_every_hidden_test_under_the_short_limits(corpus_batch: Batch, name: str) -> None:
    verdicts = hidden_verdicts(graded(corpus_batch, name).result)
    assert verdicts and set(verdicts.values()) == {"passed"}, verdicts
