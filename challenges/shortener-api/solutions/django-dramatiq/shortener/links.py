"""Links: creation with a fresh code, lookups, the Redis-cached redirect target, per-day stats."""

from __future__ import annotations

import re
import secrets
import string
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction

from shortener.errors import ApiError
from shortener.models import DailyClicks, Link
from shortener.telemetry import cache_lookup

CODE_ALPHABET = string.ascii_letters + string.digits
CODE_LENGTH = 8
CODE_PATTERN = re.compile(r"[A-Za-z0-9]{1,32}")
MAX_URL_LENGTH = 2048
_validate_url = URLValidator(schemes=["http", "https"])


@dataclass(frozen=True)
class Target:
    """Where a code redirects, as the redirect needs it (from the cache or the database)."""

    link_id: int
    url: str


def valid_url(value: object) -> str:
    """An absolute http(s) URL with a host, at most 2048 characters; else a 422."""
    if not isinstance(value, str) or not value or len(value) > MAX_URL_LENGTH:
        raise ApiError(422, "validation_error", "url must be an absolute http(s) URL of at most 2048 characters")
    try:
        _validate_url(value)
    except ValidationError:
        raise ApiError(422, "validation_error", "url must be an absolute http:// or https:// URL") from None
    return value


def create(url: str) -> Link:
    """A new link with a random code (a collision draws again)."""
    for _ in range(5):
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        try:
            with transaction.atomic():
                link: Link = Link.objects.create(code=code, url=url)
                return link
        except IntegrityError:
            continue
    raise ApiError(500, "internal_error", "could not allocate a code")


def find(code: str) -> Link:
    """The link of `code`, or a 404."""
    link: Link | None = Link.objects.filter(code=code).first() if CODE_PATTERN.fullmatch(code) else None
    if link is None:
        raise ApiError(404, "not_found", "no such link")
    return link


def target(code: str) -> Target:
    """The redirect target from the Redis cache; a miss reads PostgreSQL once (links never change)."""
    if not CODE_PATTERN.fullmatch(code):
        raise ApiError(404, "not_found", "no such link")
    key = f"link:{code}"
    cached: Any = cache.get(key)
    cache_lookup("link", hit=cached is not None)
    if isinstance(cached, dict):
        return Target(int(cached["id"]), str(cached["url"]))
    link = find(code)
    cache.set(key, {"id": link.pk, "url": link.url}, timeout=settings.LINK_CACHE_TTL_S)
    return Target(link.pk, link.url)


def daily_clicks(link: Link) -> list[tuple[date, int]]:
    """(UTC day, clicks) for every day the link was followed, oldest first."""
    rows = DailyClicks.objects.filter(link=link).order_by("day").values_list("day", "clicks")
    return [(day, clicks) for day, clicks in rows]
