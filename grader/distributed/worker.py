"""The worker side: a Celery app whose one task grades one submission with this host's backend and caches,
through the same pipeline as `grader grade` (`grader.pipeline.grade_submission`).

A task fetches its challenge and submission by hash (refusing anything that does not match), grades into a
folder keyed by what it grades, one at a time per key (so a task delivered twice finds the finished result
and reuses it), sends the result folder back as an artifact and returns its hash. Engine failures (no engine, an
exception out of the pipeline) are retried up to `retries` times, then recorded as an error result. The
coordinator's Ctrl-C sets a cancel key the running task watches: it stops its grading and removes its
sandbox, leaving no result.

A worker killed on a Docker host (SIGKILL, OOM killer) leaves its gradings' containers and volumes
behind, labelled with its dead pool process. Every worker on that host removes such orphans when it starts
and before each grading (`sweep_orphans`), so the host heals itself once any worker there runs again; the
redelivered task itself never collides with them (each grading's containers are named by a new run id).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grader import __version__
from grader.bulk.runner import CacheLimit
from grader.cache import entry_lock, touch, worker_challenge_dir, worker_result_dir
from grader.challenge import challenge_content_hash, load_challenge
from grader.distributed.artifacts import ArtifactStore, RedisArtifactStore, pack_directory, unpack_directory
from grader.distributed.protocol import (
    CANCEL_PREFIX,
    DONE_PREFIX,
    RESULT_TTL_S,
    TASK_NAME,
    GradingTask,
    TaskReply,
    celery_settings,
)
from grader.hooks import GradingCancelled, GradingHooks, Stage
from grader.models import Challenge, GradeResult
from grader.paths import cache_dir
from grader.pipeline import GradingOptions, grade_submission
from grader.results import result_dir, write_result
from grader.sandbox.base import Sandbox, SandboxError

if TYPE_CHECKING:
    from grader.engine import Engine

log = logging.getLogger("grader.worker")
RETRY_DELAY_S = 10  # an engine that restarts, or a broker that blips, is back within seconds
CANCEL_POLL_S = 1.0


@dataclass
class WorkerSettings:
    """How this worker grades: its backend, the artifact cap, how often an engine failure is retried, and the
    S3 endpoint it may reach when a task's artifacts are in a bucket."""

    sandbox_kind: str = "auto"
    max_bytes: int = 200 * 1024 * 1024
    retries: int = 2
    artifacts_endpoint: str | None = None  # --artifacts-endpoint; else AWS_ENDPOINT_URL, else AWS
    cache_max_bytes: int | None = None  # --cache-max-size: this host's cache kept within it
    cache_limit: CacheLimit | None = None  # made with the first sandbox (its engine's images count)
    sandboxes: dict[str, Sandbox] = field(default_factory=dict)  # per Python version, made on first use
    stores: dict[str, ArtifactStore] = field(default_factory=dict)  # per location named by tasks, made once


def make_app(broker_url: str, queue: str, visibility_timeout_s: float,
             settings: WorkerSettings | None = None) -> Any:
    """The Celery app of both sides, with the grading task registered (workers run it; the coordinator only
    sends it by name)."""
    from celery import Celery

    app = Celery("grader")
    app.conf.update(celery_settings(broker_url, visibility_timeout_s, queue))
    worker = settings or WorkerSettings()

    @app.task(name=TASK_NAME, bind=True, max_retries=worker.retries)  # type: ignore[untyped-decorator]
    def grade(self: Any, message: dict[str, Any]) -> dict[str, Any]:
        return run_task(self, message, worker, broker_url)

    if settings is not None:  # a worker: answer `grader workers` with its grader and engine
        _register_info_command(settings)
    return app


INFO_COMMAND = "grader_info"


def _register_info_command(settings: WorkerSettings) -> None:
    """A Celery inspect command (`grader_info`) saying which grader and engine this worker grades with."""
    from celery.worker.control import inspect_command

    @inspect_command()  # type: ignore[untyped-decorator]
    def grader_info(state: Any, **kwargs: Any) -> dict[str, str]:
        return {"grader": __version__, "sandbox": settings.sandbox_kind, "engine": describe_engine(settings)}


def describe_engine(settings: WorkerSettings) -> str:
    """The engine this worker's gradings run on, in a few words (asked live: it may have gone away)."""
    if settings.sandbox_kind == "local":
        return "local backend (not an isolation boundary)"
    from grader.engine import connect, engine_address

    try:
        engine = connect(timeout=5)
        try:
            return f"Docker {engine.version().get('Version', '?')} at {engine_address()}"
        finally:
            engine.close()
    except SandboxError as exc:
        fallback = "; the local backend grades instead" if settings.sandbox_kind == "auto" else ""
        return f"no Docker engine answers ({exc}){fallback}"


def run_task(task: Any, message: dict[str, Any], settings: WorkerSettings, broker_url: str) -> dict[str, Any]:
    """The task's body: refuse what cannot be verified, grade, send the result folder back."""
    from celery.exceptions import Ignore

    grading = GradingTask.from_json(message)  # ProtocolError: the task fails, nothing is graded
    redis = _redis(broker_url)
    store = task_store(grading, redis, settings)
    challenge = fetch_challenge(store, grading)
    hostname = str(task.request.hostname or "worker")
    key = grading.key()
    out_root = worker_result_dir(key)  # a second delivery reuses the finished result here
    try:
        # One grading of a key at a time on this host: a second delivery waits, then reuses the result.
        with entry_lock("worker-results", key,
                        lambda: log.info("%s: already being graded here; waiting", grading.name)), \
                fetched_submission(store, grading) as source:
            out_root.mkdir(parents=True, exist_ok=True)
            touch(out_root)  # last use, for `grader cache prune`
            result = _grade_or_retry(task, grading, challenge, source, out_root, settings, redis, hostname)
        keep_cache_size(settings, challenge.python)
    except GradingCancelled:
        log.info("%s: cancelled by the coordinator; no result", grading.name)
        raise Ignore() from None
    folder = result_dir(out_root, grading.name)
    digest = store.put(pack_directory(folder), f"the result of {grading.name}")
    reply = TaskReply(grading.name, digest, result.status, hostname).__dict__
    redis.set(DONE_PREFIX + key, json.dumps(reply), ex=RESULT_TTL_S)  # before the acknowledgement
    return reply


def _grade_or_retry(task: Any, grading: GradingTask, challenge: Challenge, source: Path, out_root: Path,
                    settings: WorkerSettings, redis: Any, hostname: str) -> GradeResult:
    """Grade; an engine failure is retried (a new delivery of the same task) until the retries run out, then
    it is the submission's error result."""
    try:
        sandbox = _sandbox(settings, challenge.python)
        _sweep_before_grading(sandbox)
        with cancel_watch(redis, str(task.request.id), sandbox) as cancel:
            hooks = GradingHooks(name=grading.name, cancel=cancel, on_stage=_progress(task, hostname))
            try:
                return grade_submission(source, challenge, sandbox, out_root, log=log.info, force=grading.force,
                                        hooks=hooks, options=GradingOptions(grading.as_of(), grading.root))
            finally:
                if cancel.is_set():  # an aborted sandbox refuses every later run: the next task makes a new one
                    settings.sandboxes.pop(challenge.python, None)
    except GradingCancelled:
        raise
    except Exception as exc:  # no engine, or a failure out of the pipeline: maybe this host's, maybe passing
        if task.request.retries < settings.retries:
            log.warning("%s: %s: %s; retrying", grading.name, type(exc).__name__, exc)
            raise task.retry(exc=exc, countdown=RETRY_DELAY_S) from exc
        message = f"worker {hostname} could not grade it after {settings.retries + 1} attempts: {exc}"
        return engine_error_result(challenge, grading.name, out_root, message)


def keep_cache_size(settings: WorkerSettings, python: str) -> None:
    """With --cache-max-size: count the grading, and every few fit this host's cache to the size."""
    if settings.cache_max_bytes is None:
        return
    if settings.cache_limit is None:
        from grader.sandbox.docker import DockerSandbox
        from grader.sandbox.images import EngineImages

        sandbox = settings.sandboxes.get(python)
        images = EngineImages(sandbox.engine) if isinstance(sandbox, DockerSandbox) else None
        settings.cache_limit = CacheLimit(settings.cache_max_bytes, images)
    settings.cache_limit.after_grading(log.info)


def task_store(grading: GradingTask, redis: Any, settings: WorkerSettings) -> ArtifactStore:
    """Where this task's artifacts are: the broker's Redis, or the store its message names, reached at this
    worker's own endpoint with its own credentials (`grader.distributed.stores.store_for_task`)."""
    if grading.artifacts is None:
        return RedisArtifactStore(redis, settings.max_bytes)
    from grader.distributed.stores import store_for_task

    cache_key = json.dumps(grading.artifacts, sort_keys=True)
    if cache_key not in settings.stores:
        settings.stores[cache_key] = store_for_task(grading.artifacts, settings.artifacts_endpoint,
                                                    settings.max_bytes)
    return settings.stores[cache_key]


def engine_error_result(challenge: Challenge, name: str, out_root: Path, message: str) -> GradeResult:
    """An error result for a grading the worker could not do, written like any other result."""
    result = GradeResult(
        grader_version=__version__, graded_at=datetime.now(UTC).isoformat(timespec="seconds"), status="error",
        error=message, challenge={"id": challenge.id, "title": challenge.title,
                                  "content_hash": challenge_content_hash(challenge)},
        submission=None, sandbox=None, overall=None, evaluated_weight=0,
    )
    write_result(result, result_dir(out_root, name))
    return result


def fetch_challenge(store: ArtifactStore, grading: GradingTask) -> Challenge:
    """The challenge bundle the message names, fetched and verified once per worker host, then loaded."""
    folder = worker_challenge_dir(grading.challenge.removeprefix("sha256:"))
    bundle = folder / "bundle"
    touch(folder)  # last use, for `grader cache prune` (which keeps it while a grading may be reading it)
    if not bundle.is_dir():
        data = store.get(grading.challenge, f"challenge {grading.challenge_id}")
        staging = Path(tempfile.mkdtemp(dir=cache_dir("worker-challenges"), prefix=".incoming-"))
        unpack_directory(data, staging / "bundle")
        folder.mkdir(exist_ok=True)
        try:
            os.rename(staging / "bundle", bundle)  # atomic: another process may have unpacked it meanwhile
        except OSError:
            if not bundle.is_dir():
                raise
        shutil.rmtree(staging, ignore_errors=True)
    return load_challenge(str(bundle))


@contextmanager
def fetched_submission(store: ArtifactStore, grading: GradingTask) -> Iterator[Path]:
    """The submission the message names, verified, under its own file name in a folder of this delivery."""
    data = store.get(grading.submission, f"submission {grading.name}")
    folder = Path(tempfile.mkdtemp(dir=cache_dir("worker-submissions")))
    try:
        source = folder / grading.filename
        if grading.source_kind == "directory":
            unpack_directory(data, source)
        else:
            source.write_bytes(data)
        yield source
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def cancel_watch(redis: Any, task_id: str, sandbox: Sandbox) -> Iterator[threading.Event]:
    """A cancel flag set when the coordinator asks this task to stop; the sandbox is aborted at once."""
    cancel, done = threading.Event(), threading.Event()

    def watch() -> None:
        while not done.wait(CANCEL_POLL_S):
            try:
                asked = redis.exists(CANCEL_PREFIX + task_id)
            except Exception:  # a broker blip: look again next time
                continue
            if asked:
                cancel.set()
                sandbox.abort()
                return

    watcher = threading.Thread(target=watch, daemon=True, name="grader-cancel-watch")
    watcher.start()
    try:
        yield cancel
    finally:
        done.set()


def _progress(task: Any, hostname: str) -> Any:
    """A stage listener that publishes the running stages (and this worker's name) as the task's state."""
    active: list[Stage] = []
    lock = threading.Lock()

    def listener(stage: Stage, running: bool) -> None:
        with lock:
            if running and stage not in active:
                active.append(stage)
            elif not running and stage in active:
                active.remove(stage)
            meta = {"stages": list(active), "worker": hostname}
        try:
            task.update_state(state="PROGRESS", meta=meta)
        except Exception as exc:  # progress is a courtesy: never fail a grading over it
            log.debug("progress not published: %s", exc)

    return listener


def sweep_orphans(engine: Engine) -> int:
    """Remove what graders that are gone left in this host's engine; returns how many resources went.

    A failure is logged, never raised: tidying up must not cost a grading."""
    from grader.sandbox.cleanup import count_by_kind, remove_orphans

    try:
        removed = remove_orphans(engine)
    except Exception as exc:  # an engine error or a dropped connection: the next sweep tries again
        log.warning("could not remove what killed graders left behind: %s", exc)
        return 0
    if removed:
        log.info("removed %s left behind by graders that are gone", count_by_kind(removed))
    return len(removed)


def sweep_orphans_at_start(kind: str) -> None:
    """At a worker's start: remove what killed graders left on this host's engine (Docker backends only)."""
    if kind not in ("auto", "docker"):
        return
    from grader.engine import connect

    try:
        engine = connect(timeout=10)
    except SandboxError:  # no engine: the first task says so, with its retries
        return
    try:
        sweep_orphans(engine)
    finally:
        engine.close()


def _sweep_before_grading(sandbox: Sandbox) -> None:
    from grader.sandbox.docker import DockerSandbox

    if isinstance(sandbox, DockerSandbox):
        sweep_orphans(sandbox.engine)


def _sandbox(settings: WorkerSettings, python: str) -> Sandbox:
    """This worker process's backend for `python`, made once (its images and venvs are cached per host)."""
    if python not in settings.sandboxes:
        settings.sandboxes[python] = make_backend(settings.sandbox_kind, python)
    return settings.sandboxes[python]


def make_backend(kind: str, python: str) -> Sandbox:
    """Docker when asked, or on `auto` when an engine answers; else the local backend."""
    if kind in ("auto", "docker"):
        from grader.sandbox.docker import DockerSandbox

        try:
            docker_sandbox = DockerSandbox(python=python, log=log.info)
            docker_sandbox.base_image()
            return docker_sandbox
        except SandboxError:
            if kind == "docker":
                raise
            log.warning("no Docker engine: this worker grades on the local backend (not an isolation boundary)")
    from grader.sandbox.local import LocalSandbox

    return LocalSandbox()


def _redis(broker_url: str) -> Any:
    import redis

    return redis.Redis.from_url(broker_url)
