"""Dramatiq actors, run by `python -m shortener.worker`: the redirect only sends a message, the worker writes."""

from __future__ import annotations

import logging
from datetime import date

import dramatiq
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F

from shortener.models import DailyClicks, Link

logger = logging.getLogger("shortener.tasks")


@dramatiq.actor(queue_name=settings.CLICK_QUEUE, max_retries=20, min_backoff=500, max_backoff=30_000)
def record_click(link_id: int, day: str) -> None:
    """Add one click to the link's count for `day` (an ISO date, UTC); retried by Dramatiq if it fails."""
    add_clicks(link_id, date.fromisoformat(day), 1)


def add_clicks(link_id: int, day: date, clicks: int) -> None:
    """Atomically add `clicks` to the (link, day) count: an UPDATE, else an INSERT, else (a concurrent
    INSERT won the race) the UPDATE again. A link that no longer exists drops its clicks."""
    if _increment(link_id, day, clicks):
        return
    try:
        with transaction.atomic():
            DailyClicks.objects.create(link_id=link_id, day=day, clicks=clicks)
    except IntegrityError:
        if not _increment(link_id, day, clicks) and not Link.objects.filter(pk=link_id).exists():
            logger.warning("click for a deleted link dropped", extra={"link_id": link_id})


def _increment(link_id: int, day: date, clicks: int) -> bool:
    updated: int = DailyClicks.objects.filter(link_id=link_id, day=day).update(clicks=F("clicks") + clicks)
    return updated > 0
