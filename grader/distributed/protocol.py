"""What the coordinator and the workers agree on: the task's JSON message, its idempotency key, the
result a worker sends back, and the broker settings of both sides.

Messages are JSON only (Celery's pickle is never accepted: a message is data, never code). A message names
its submission and challenge by hash, and with `--artifacts` the store's location (`stores`); the worker
fetches them and checks the hash (`artifacts`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Literal

from grader import __version__
from grader.models import Limits

TASK_NAME = "grader.grade_submission"
DEFAULT_QUEUE = "grader"
BROKER_ENV = "GRADER_BROKER_URL"
CANCEL_PREFIX = "grader:cancel:"  # per task id: set by the coordinator on Ctrl-C; the running task watches it
DONE_PREFIX = "grader:done:"  # per grading key: the reply of the task that finished it (a restarted coordinator)
# A grading's wall time beyond its app's start-up and suite: wheels and images built on a cold worker,
# the static checks, the candidate's own tests. Generous: a redelivery too early grades twice (harmless but
# wasteful), one too late only delays recovery from a dead worker.
BUILD_ALLOWANCE_S = 900.0
MESSAGE_VERSION = 1
RESULT_TTL_S = 7 * 24 * 3600  # how long finished tasks are remembered on the broker

SourceKind = Literal["directory", "file"]


class BrokerError(Exception):
    """The broker cannot be reached or refuses us (address, password, TLS): nothing was sent."""


def redacted(url: str) -> str:
    """A broker URL without its password, for messages."""
    scheme, _, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    return f"{scheme}://{'***@' if at and credentials else ''}{host}"


class ProtocolError(Exception):
    """A message that is not a grading task this grader understands: it is refused, never guessed at."""


@dataclass(frozen=True)
class GradingTask:
    """One submission to grade: the JSON a task carries."""

    name: str  # the output folder's name in --out (unique in the batch)
    filename: str  # the submission's file or folder name, as intake sees it
    source_kind: SourceKind  # a folder travels as a tar.gz; an archive file travels as its own bytes
    submission: str  # sha256 address of the submission's artifact
    challenge: str  # sha256 address of the challenge bundle's artifact
    challenge_id: str
    force: bool = False
    resolve_as_of: str | None = None  # an ISO date, "now" or None, as `--resolve-as-of` takes it
    root: str | None = None
    # Where the artifacts live when not in the broker's Redis (`StoreLocation.to_json`: no credentials); not
    # part of the key: the same grading from another store is the same result.
    artifacts: dict[str, Any] | None = None
    grader_version: str = __version__
    version: int = MESSAGE_VERSION

    def key(self) -> str:
        """What the task grades, as a key: the same submission, challenge, options and grader give the same
        key, so a task sent twice (a restarted coordinator) or delivered twice (a dead worker) makes one
        result. Each sending has its own Celery task id (`key-<random>`), so a revoked sending never blocks
        the next one."""
        fields = asdict(self)
        fields.pop("force")
        fields.pop("artifacts")
        digest = hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()
        return f"grade-{digest[:40]}"

    def to_json(self) -> dict[str, Any]:
        """The message body (with the broker's Redis as the store, exactly the message of before)."""
        body = asdict(self)
        if body["artifacts"] is None:
            del body["artifacts"]
        return body

    @classmethod
    def from_json(cls, data: object) -> GradingTask:
        """A message as a task; ProtocolError for anything else (unknown or missing fields, wrong types)."""
        if not isinstance(data, dict) or data.get("version") != MESSAGE_VERSION:
            raise ProtocolError("the message is not a grading task of this grader's protocol; it is refused")
        try:
            task = cls(**data)
        except TypeError as exc:
            raise ProtocolError(f"the grading task has unexpected fields ({exc}); it is refused") from None
        texts = (task.name, task.filename, task.submission, task.challenge, task.challenge_id)
        if not all(isinstance(text, str) and text for text in texts) or task.source_kind not in ("directory", "file"):
            raise ProtocolError("the grading task has a missing or malformed field; it is refused")
        if task.artifacts is not None and not isinstance(task.artifacts, dict):
            raise ProtocolError("the grading task's artifact store is malformed; it is refused")
        if "/" in task.filename or "/" in task.name or task.filename in (".", ".."):
            raise ProtocolError("the grading task names a path, not a file name; it is refused")
        return task

    def as_of(self) -> datetime | Literal["now"] | None:
        """`resolve_as_of` as the pipeline takes it."""
        if self.resolve_as_of in (None, "now"):
            return "now" if self.resolve_as_of == "now" else None
        return datetime.fromisoformat(self.resolve_as_of)


@dataclass(frozen=True)
class TaskReply:
    """What a finished task returns: the result folder's artifact, and who graded it."""

    name: str
    result: str  # sha256 address of the result folder's tar.gz
    status: str
    worker: str

    @classmethod
    def from_json(cls, data: object) -> TaskReply:
        """A task's return value; ProtocolError when it is not one."""
        if not isinstance(data, dict):
            raise ProtocolError("the worker's reply is not a grading result")
        try:
            return cls(**{key: str(data[key]) for key in ("name", "result", "status", "worker")})
        except KeyError as exc:
            raise ProtocolError(f"the worker's reply has no {exc}") from None


def visibility_timeout(limits: list[Limits]) -> float:
    """Seconds before an unacknowledged task goes to another worker: longer than the slowest grading these
    limits allow (twice the app's start-up and suite time, plus building its environment)."""
    slowest = max((limit.startup_timeout_s + limit.test_timeout_s for limit in limits), default=240.0)
    return 2 * slowest + BUILD_ALLOWANCE_S


def celery_settings(broker_url: str, visibility_timeout_s: float, queue: str) -> dict[str, Any]:
    """The Celery configuration of both sides: JSON only, acknowledged after the result is stored,
    redelivered when a worker dies, one task per worker slot at a time."""
    transport = {"visibility_timeout": int(visibility_timeout_s)}
    return {
        "broker_url": broker_url,
        "result_backend": broker_url,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "result_accept_content": ["json"],
        "task_acks_late": True,  # acknowledged only once the task returned (its result is stored)
        "task_reject_on_worker_lost": True,  # a worker process that dies puts its task back in the queue
        "worker_prefetch_multiplier": 1,  # a slot holds one task: nothing waits on a busy worker
        "task_track_started": True,
        "task_default_queue": queue,
        "broker_transport_options": transport,
        "result_backend_transport_options": transport,
        "result_expires": RESULT_TTL_S,
        "worker_send_task_events": True,  # Flower and `celery events` see the standard events
        "task_send_sent_event": True,
        "broker_connection_retry_on_startup": True,
        "worker_hijack_root_logger": False,
    }


def shipped_limits() -> list[Limits]:
    """The limits of the challenges shipped with the grader (a worker grades any of them)."""
    from grader.challenge import ChallengeError, list_shipped_challenges, load_challenge

    limits: list[Limits] = []
    for challenge_id in list_shipped_challenges():
        try:
            limits.append(load_challenge(challenge_id).limits)
        except ChallengeError:
            continue
    return limits
