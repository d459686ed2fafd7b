"""The Dramatiq broker on Redis, installed once per process before any actor is declared."""

from __future__ import annotations

import functools
from typing import Any

import dramatiq
from django.conf import settings
from django.db import close_old_connections, connections
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import default_middleware
from redis import Redis


class DjangoConnections(dramatiq.Middleware):
    """Drop broken or expired database connections around each message (what Django does per request),
    and close a worker thread's connections when the thread stops."""

    def before_process_message(self, broker: dramatiq.Broker, message: Any) -> None:
        close_old_connections()

    def after_process_message(self, broker: dramatiq.Broker, message: Any, *, result: Any = None,
                              exception: BaseException | None = None) -> None:
        close_old_connections()

    def before_worker_thread_shutdown(self, broker: dramatiq.Broker, thread: Any) -> None:
        connections.close_all()


@functools.cache
def broker() -> RedisBroker:
    """The process's broker: Dramatiq's default middleware and the database connection hygiene."""
    middleware = [factory() for factory in default_middleware] + [DjangoConnections()]
    client = Redis.from_url(settings.REDIS_URL, **settings.REDIS_TIMEOUTS)
    return RedisBroker(client=client, middleware=middleware)


def install_broker() -> None:
    """Make the Redis broker the global one (before `shortener.tasks` declares its actor)."""
    dramatiq.set_broker(broker())


def queue_depth() -> int:
    """Click messages not yet acknowledged: waiting, in a worker's hands or delayed for a retry."""
    return int(broker().do_qsize(settings.CLICK_QUEUE))
