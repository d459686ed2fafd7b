"""The click queue on Celery with its Redis broker: a redirect enqueues `count_click`, the worker runs it.

What keeps every click:
- `task_acks_late` with a prefetch of 1: a worker holds one message at a time, and it leaves Redis only once
  its task has returned. On SIGTERM Celery's warm shutdown finishes the task in hand, the other messages
  never left the queue; a worker killed outright (SIGKILL, out of memory) leaves its message unacknowledged,
  and the broker hands it out again after VISIBILITY_TIMEOUT_S.
- `task_reject_on_worker_lost`: with a prefork pool, a child that dies mid-task puts its message back
  instead of failing it (the solo pool of the Procfile has no children; it keeps the setting for a switch).
- A database that is down, or a schema the web process has not migrated yet, is retried with backoff (the
  retry is published before the original is acknowledged).
Delivery is at least once: a worker killed between the commit and the acknowledgement counts that click
again when the message comes back. One gap is kombu's: its Redis transport pops a message (BRPOP) and then
records it as unacknowledged, so a worker killed outright between the two loses that one message. Results
are not stored: nothing reads them.

Traces cross the queue: the publish is a PRODUCER span whose context travels in the message's headers, and
the worker continues it with a CONSUMER span (its upsert a database span below it), so a redirect's trace
shows when its click was counted.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date

import asyncpg
from celery import Celery, Task
from opentelemetry import propagate
from opentelemetry.trace import SpanKind
from redis.asyncio import Redis

from shortener import clicks
from shortener.telemetry import db_span, tracer

QUEUE = "clicks"  # also the Redis list holding the waiting messages (the queue depth metric reads it)
VISIBILITY_TIMEOUT_S = 300  # far above a task's run time (one upsert), or a slow task would run twice
# Failures that pass: the database restarting or unreachable, or the migrations not applied yet.
RETRYABLE = (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError, asyncpg.CannotConnectNowError,
             asyncpg.UndefinedTableError)

celery_app = Celery("shortener")
celery_app.conf.update(
    task_default_queue=QUEUE,
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_ignore_result=True,
    task_serializer="json",
    accept_content=["json"],
    broker_connection_retry_on_startup=True,
    broker_transport_options={"visibility_timeout": VISIBILITY_TIMEOUT_S},
    worker_hijack_root_logger=False,  # the JSON logging of shortener.logging_setup stays in place
)


def use_broker(redis_url: str) -> None:
    """Point the queue at this Redis (before the first message is sent or consumed)."""
    celery_app.conf.broker_url = redis_url


async def enqueue_click(link_id: int, day: str) -> None:
    """Publish one `count_click` (no database work in the request).

    Celery publishes synchronously (kombu on redis-py), so the publish runs on a thread of the loop's
    executor: the event loop goes on serving other requests while Redis answers.
    """
    await asyncio.to_thread(_publish_click, link_id, day)  # to_thread copies the context: the span's parent


def _publish_click(link_id: int, day: str) -> None:
    with tracer.start_as_current_span(f"{QUEUE} publish", kind=SpanKind.PRODUCER) as span:
        span.set_attribute("messaging.system", "celery")
        span.set_attribute("messaging.destination.name", QUEUE)
        headers: dict[str, str] = {}
        propagate.inject(headers)
        count_click.apply_async(args=(link_id, day), headers=headers)


async def queue_depth(redis: Redis) -> int:
    """Clicks published and not yet taken by a worker: the length of the queue's Redis list."""
    depth: int = await redis.llen(QUEUE)  # type: ignore[misc]  # redis-py types the sync and async API as one
    return depth


class ClickStore:
    """The worker's PostgreSQL connection and the event loop it lives on: Celery runs tasks as plain functions.

    One loop and one connection for the life of the worker (made again after a failure), so a task costs one
    statement: no connection set-up, and no pool's reset statements after it.
    """

    def __init__(self, database_url: str) -> None:
        self._database_url = database_url
        self._loop = asyncio.new_event_loop()
        self._connection: asyncpg.Connection | None = None

    def add(self, link_id: int, day: date, count: int = 1) -> None:
        """Add `count` clicks to (link, day), connecting first if needed."""
        self._loop.run_until_complete(self._add(link_id, day, count))

    async def _add(self, link_id: int, day: date, count: int) -> None:
        if self._connection is None or self._connection.is_closed():
            self._connection = await asyncpg.connect(self._database_url)
        with db_span("INSERT", clicks.UPSERT):
            await clicks.add_clicks(self._connection, link_id, day, count)

    def close(self) -> None:
        """Close the connection and the loop (at worker shutdown)."""
        if self._connection is not None:
            self._loop.run_until_complete(self._connection.close())
            self._connection = None
        self._loop.close()


@dataclass
class _Opened:
    """The store of this process, once the worker (or a test) opened it."""

    store: ClickStore | None = None


_opened = _Opened()


def use_database(database_url: str) -> None:
    """Open the store `count_click` writes to (the worker calls this at start; tests too)."""
    close_database()
    _opened.store = ClickStore(database_url)


def close_database() -> None:
    """Close the store, if one is open."""
    if _opened.store is not None:
        _opened.store.close()
        _opened.store = None


def _trace_headers(task: Task) -> dict[str, str]:
    """The trace context the publisher put in the message's headers (where Celery exposes them)."""
    headers = getattr(task.request, "headers", None) or {}
    found = {name: getattr(task.request, name, None) or headers.get(name) for name in ("traceparent", "tracestate")}
    return {name: value for name, value in found.items() if isinstance(value, str)}


@celery_app.task(name="shortener.count_click", bind=True, autoretry_for=RETRYABLE, retry_backoff=1,
                 retry_backoff_max=30, retry_jitter=True, max_retries=20)
def count_click(self: Task, link_id: int, day: str) -> None:
    """Count one click of `link_id` on `day` (an ISO date)."""
    context = propagate.extract(_trace_headers(self))
    with tracer.start_as_current_span(f"{QUEUE} process", context=context, kind=SpanKind.CONSUMER) as span:
        span.set_attribute("messaging.system", "celery")
        span.set_attribute("messaging.destination.name", QUEUE)
        if _opened.store is None:
            raise RuntimeError("no click store: the worker calls use_database() at start")
        _opened.store.add(link_id, date.fromisoformat(day))
