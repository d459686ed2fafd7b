"""`python -m shortener.worker`: one process of Dramatiq worker threads for the click queue.

On SIGTERM (or SIGINT) the worker stops taking messages, lets the threads finish the message in hand and
puts the ones it had prefetched back on the queue (Dramatiq's `Worker.stop`), then exits 0: no click is
lost. A second signal while stopping changes nothing; the stop is already under way.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from types import FrameType

import django

logger = logging.getLogger("shortener.worker")
WORKER_THREADS = 2
POLL_MS = 250  # how long a worker thread or consumer waits for a message before checking whether to stop
STOP_TIMEOUT_MS = 20_000


def main() -> None:
    """Work the click queue until stopped."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()  # logging, tracing and the broker (shortener.apps)

    import dramatiq

    from shortener.tasks import record_click  # declares the actor the worker consumes

    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    worker = dramatiq.Worker(dramatiq.get_broker(), worker_threads=WORKER_THREADS, worker_timeout=POLL_MS)
    worker.start()
    logger.info("click worker started", extra={"threads": WORKER_THREADS, "actors": [record_click.actor_name]})
    while not stop.wait(0.5):  # wake up now and then: signal handlers run in this thread
        pass
    logger.info("click worker stopping: finishing messages in hand, requeueing the rest")
    worker.stop(timeout=STOP_TIMEOUT_MS)
    dramatiq.get_broker().close()
    logger.info("click worker stopped")


if __name__ == "__main__":
    main()
