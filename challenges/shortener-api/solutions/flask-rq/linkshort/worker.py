"""`python -m linkshort.worker`: an RQ worker for the click queue (warm shutdown on SIGTERM: the job in
hand finishes first)."""

from __future__ import annotations

from redis import Redis
from rq import Queue, SimpleWorker

from linkshort.config import load_settings
from linkshort.jobs import QUEUE_NAME
from linkshort.logs import configure_logging


def main() -> None:
    """Work the click queue until stopped."""
    configure_logging()
    redis = Redis.from_url(load_settings().redis_url)
    SimpleWorker([Queue(QUEUE_NAME, connection=redis)], connection=redis).work(logging_level="WARNING")


if __name__ == "__main__":
    main()
