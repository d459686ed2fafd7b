"""The coordinator: `grader grade ... --broker URL` sends a batch to the workers instead of grading it here.

Each submission goes out as one task keyed by what it grades (`GradingTask.key`), after its folder (or
archive) and the challenge bundle are stored as hash-addressed artifacts. The coordinator then follows the
tasks' states (queued, the running stages and which worker has it) in the same display as a local batch,
and writes each finished result folder into `--out` (files first, `result.json` last and atomically, then
the task's key beside it). Resume: a result in `--out` whose recorded key is the task's is not sent again,
and a task the broker already finished (a restarted coordinator) is collected, not regraded. Ctrl-C
revokes the queued tasks, asks the running ones to stop (they remove their sandboxes) and keeps what
finished.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from grader import __version__
from grader.bulk.runner import Batch, BatchItem, Display, State
from grader.challenge import challenge_content_hash
from grader.distributed.artifacts import (
    ArtifactError,
    ArtifactStore,
    RedisArtifactStore,
    pack_directory,
    unpack_directory,
)
from grader.distributed.protocol import (
    BROKER_ENV,
    CANCEL_PREFIX,
    DONE_PREFIX,
    TASK_NAME,
    BrokerError,
    GradingTask,
    ProtocolError,
    SourceKind,
    TaskReply,
    redacted,
    visibility_timeout,
)
from grader.models import Challenge, GradeResult
from grader.outdir import write_atomically
from grader.pipeline import GradingOptions
from grader.results import RESULT_FILE, previous_result, read_result, result_dir, write_result

TASK_KEY_FILE = ".grader-task"  # beside result.json: the key of the task that made it (resume)
POLL_S = 0.5
CANCEL_TTL_S = 24 * 3600


@dataclass
class RemoteBatch:
    """What sending a batch needs: the challenge, where results go, the broker and how to show progress."""

    challenge: Challenge
    out_dir: Path
    broker_url: str
    queue: str
    force: bool
    display: Display
    options: GradingOptions = field(default_factory=GradingOptions)
    max_bytes: int = 200 * 1024 * 1024
    artifacts_url: str | None = None  # --artifacts: None keeps the artifacts in the broker's Redis
    artifacts_endpoint: str | None = None  # --artifacts-endpoint (else AWS_ENDPOINT_URL, else AWS)
    app: Any = None
    redis: Any = None
    store: ArtifactStore | None = None
    keys: dict[int, str] = field(default_factory=dict)  # item index -> grading key (GradingTask.key)
    task_ids: dict[int, str] = field(default_factory=dict)  # item index -> Celery task id, for the items sent
    seen: dict[int, str] = field(default_factory=dict)  # item index -> the last progress shown

    def connect(self) -> None:
        """The Celery app, the broker's Redis and the artifact store (that Redis, or `--artifacts`'s, checked
        to be usable now: a missing bucket or denied access is one sentence before anything is sent)."""
        import redis

        from grader.distributed.worker import make_app

        try:
            client = redis.Redis.from_url(self.broker_url)
            client.ping()
        except (redis.RedisError, ValueError) as exc:
            reason = str(exc).rstrip(".")
            raise BrokerError(f"cannot use the broker {redacted(self.broker_url)}: {reason}; check --broker (or "
                              f"{BROKER_ENV}), its password and that Redis is reachable") from None
        self.app = make_app(self.broker_url, self.queue, visibility_timeout([self.challenge.limits]))
        self.redis = client
        if self.artifacts_url is None:
            self.store = RedisArtifactStore(client, self.max_bytes)
            return
        from grader.distributed.stores import open_store

        self.store = open_store(self.artifacts_url, self.artifacts_endpoint, self.max_bytes)


def run_remote_batch(batch: Batch, remote: RemoteBatch, on_finished: Callable[[BatchItem], None]) -> Batch:
    """Send every item to the workers and collect the results; like `run_batch`, never raises on Ctrl-C
    (then `batch.interrupted` is set and the unfinished items are `cancelled`)."""
    remote.connect()
    batch.jobs = worker_capacity(remote.app)
    if batch.jobs == 0:
        remote.display.log(None, "no worker answered yet: the tasks wait in the queue until `grader worker` runs")
    batch.jobs = max(1, batch.jobs)
    remote.display.start(batch)
    try:
        challenge_hash = _store(remote).put(pack_directory(Path(remote.challenge.root)),
                                            f"challenge {remote.challenge.id}")
        for item in batch.items:
            _send(batch, remote, item, challenge_hash, on_finished)
        _follow(batch, remote, on_finished)
    except KeyboardInterrupt:
        _cancel(batch, remote)
    finally:
        remote.display.stop()
    return batch


def _store(remote: RemoteBatch) -> ArtifactStore:
    assert remote.store is not None, "connect() first"
    return remote.store


def _send(batch: Batch, remote: RemoteBatch, item: BatchItem, challenge_hash: str,
          on_finished: Callable[[BatchItem], None]) -> None:
    """Store the submission and send its task, unless its result is already in --out or on the broker."""
    try:
        kind, data = _pack_submission(item.source)
        digest = _store(remote).put(data, f"submission {item.name}")
    except (ArtifactError, OSError) as exc:
        _finish(batch, remote, item, _error_result(remote, item, f"not sent to the workers: {exc}"), "error")
        on_finished(item)
        return
    as_of = remote.options.resolve_as_of
    location = _store(remote).location()
    task = GradingTask(
        name=item.name, filename=item.source.name, source_kind=kind, submission=digest,
        challenge=challenge_hash, challenge_id=remote.challenge.id, force=remote.force,
        resolve_as_of=as_of.isoformat() if isinstance(as_of, datetime) else as_of, root=remote.options.root,
        artifacts=location.to_json() if location is not None else None,
    )
    key = task.key()
    remote.keys[item.index] = key
    if not remote.force and _recorded_key(remote.out_dir / item.name) == key:
        previous = previous_result(remote.out_dir / item.name)
        if previous is not None:
            _finish(batch, remote, item, previous, "reused")
            on_finished(item)
            return
    done = None if remote.force else remote.redis.get(DONE_PREFIX + key)
    if done is not None and _result_stored(remote, done):  # finished before this coordinator (re)started:
        # collected, not regraded (a result left in another store is sent again: the worker reuses it)
        _collect(batch, remote, item, _json(done))
        on_finished(item)
        return
    task_id = f"{key}-{uuid.uuid4().hex[:12]}"
    remote.task_ids[item.index] = task_id
    remote.app.send_task(TASK_NAME, args=[task.to_json()], task_id=task_id, queue=remote.queue)


def _result_stored(remote: RemoteBatch, done: bytes) -> bool:
    """Whether a finished task's result folder is in this run's store."""
    reply = _json(done)
    result = reply.get("result") if isinstance(reply, dict) else None
    try:
        return isinstance(result, str) and _store(remote).contains(result)
    except ArtifactError:
        return False


def _json(data: bytes) -> object:
    try:
        return json.loads(data)
    except ValueError:
        return None


def _pack_submission(source: Path) -> tuple[SourceKind, bytes]:
    """A folder travels as a tar.gz of its files; an archive file as its own bytes."""
    if source.is_dir():
        return "directory", pack_directory(source)
    return "file", source.read_bytes()


def _follow(batch: Batch, remote: RemoteBatch, on_finished: Callable[[BatchItem], None]) -> None:
    """Poll the tasks' states until every item is finished, updating the display as they move."""
    waiting = [item for item in batch.items if item.index in remote.task_ids and item.finished is None]
    while waiting:
        for item in list(waiting):
            if _poll(batch, remote, item):
                waiting.remove(item)
                on_finished(item)
        time.sleep(POLL_S)


def _poll(batch: Batch, remote: RemoteBatch, item: BatchItem) -> bool:
    """Look at one task; True when it finished (its result is written to --out)."""
    task = remote.app.AsyncResult(remote.task_ids[item.index])
    state, info = task.state, task.info
    if state == "SUCCESS":
        _collect(batch, remote, item, info)
        return True
    if state == "FAILURE":
        message = f"refused or failed on the worker: {info}"
        _finish(batch, remote, item, _error_result(remote, item, message), "error")
        return True
    if state in ("STARTED", "PROGRESS", "RETRY") and isinstance(info, dict):
        _running(batch, remote, item, info)
    return False


def _running(batch: Batch, remote: RemoteBatch, item: BatchItem, info: dict[str, Any]) -> None:
    """Show the running stages and the worker that has the task."""
    stages = [stage for stage in info.get("stages", []) if isinstance(stage, str)]
    worker = str(info.get("worker") or info.get("hostname") or "a worker")
    news = f"{item.name}: {' + '.join(stages) or 'started'} on {worker}"
    if news == remote.seen.get(item.index):
        return
    remote.seen[item.index] = news
    with batch.lock:
        if item.started is None:
            item.started = time.monotonic()
        item.active = cast(Any, stages)
        item.state = cast(State, stages[-1] if stages else "intake")
    remote.display.log(item, news)
    remote.display.changed(item)


def _collect(batch: Batch, remote: RemoteBatch, item: BatchItem, reply_json: object) -> None:
    """Fetch a finished task's result folder by hash and write it into --out."""
    try:
        reply = TaskReply.from_json(reply_json)
        data = _store(remote).get(reply.result, f"the result of {item.name}")
        result = write_remote_result(data, remote.out_dir, item, remote.keys[item.index])
    except (ArtifactError, ProtocolError) as exc:
        _finish(batch, remote, item, _error_result(remote, item, f"the worker's result was refused: {exc}"), "error")
        return
    remote.display.log(item, f"{item.name}: graded on {reply.worker}")
    _finish(batch, remote, item, result, "done" if result.status == "graded" else "error")


def write_remote_result(data: bytes, out_dir: Path, item: BatchItem, key: str) -> GradeResult:
    """Unpack a result folder into OUT/<name>: its files first, result.json last (atomically, naming the
    submission's path on this machine), then the task's key; a half-written folder is never a result."""
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out_dir, prefix=".incoming-"))
    try:
        unpacked = unpack_directory(data, staging / "result")
        result = read_result(unpacked / RESULT_FILE)
        if result.submission is not None:
            submission = result.submission.model_copy(update={"source": str(item.source)})
            result = result.model_copy(update={"submission": submission})
        target = result_dir(out_dir, item.name)
        for path in sorted(unpacked.rglob("*")):
            if path.is_file() and path.name != RESULT_FILE:
                destination = target / path.relative_to(unpacked)
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, destination)
        write_result(result, target)
        write_atomically(target / TASK_KEY_FILE, key + "\n")
        return result
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _recorded_key(directory: Path) -> str | None:
    """The key of the task whose result is in `directory`, if it came from the workers."""
    try:
        return (directory / TASK_KEY_FILE).read_text(encoding="utf-8").strip()
    except OSError:
        return None


def _finish(batch: Batch, remote: RemoteBatch, item: BatchItem, result: GradeResult, state: State) -> None:
    with batch.lock:
        item.result, item.state, item.active = result, state, []
        item.started = item.started or time.monotonic()
        item.finished = time.monotonic()
    remote.display.changed(item)


def _error_result(remote: RemoteBatch, item: BatchItem, message: str) -> GradeResult:
    """An error result written to OUT/<name>, for a submission that was not graded by any worker."""
    challenge = remote.challenge
    result = GradeResult(
        grader_version=__version__, graded_at=datetime.now(UTC).isoformat(timespec="seconds"), status="error",
        error=message, challenge={"id": challenge.id, "title": challenge.title,
                                  "content_hash": challenge_content_hash(challenge)},
        submission=None, sandbox=None, overall=None, evaluated_weight=0,
    )
    write_result(result, result_dir(remote.out_dir, item.name))
    remote.display.log(item, f"{item.name}: not graded: {message}")
    return result


def _cancel(batch: Batch, remote: RemoteBatch) -> None:
    """Ctrl-C: revoke every unfinished task and ask the running ones to stop and remove their sandboxes."""
    batch.interrupted = True
    remote.display.log(None, "interrupted: cancelling the queued tasks and stopping the running ones")
    redis = remote.redis
    unfinished = [item for item in batch.items if item.finished is None and item.index in remote.task_ids]
    for item in unfinished:
        task_id = remote.task_ids[item.index]
        redis.set(CANCEL_PREFIX + task_id, b"1", ex=CANCEL_TTL_S)
        remote.app.control.revoke(task_id)
    with batch.lock:
        for item in batch.items:
            if item.finished is None:
                item.state, item.active = "cancelled", []


def worker_capacity(app: Any) -> int:
    """Task slots of the workers that answer within a second (their pools' sizes); for the display's ETA."""
    stats = app.control.inspect(timeout=1.0).stats() or {}
    return sum(int(worker.get("pool", {}).get("max-concurrency", 1)) for worker in stats.values())
