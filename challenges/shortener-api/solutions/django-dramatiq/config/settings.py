"""Settings, read from the environment only (see .env.example); a missing or malformed variable stops the
start-up with a message naming it."""

from __future__ import annotations

import os
import secrets

from django.core.exceptions import ImproperlyConfigured

from shortener.config import database_from_url, positive_number, required

DATABASE_URL = required("DATABASE_URL")
REDIS_URL = required("REDIS_URL")
REDIS_TIMEOUTS = {"socket_timeout": 5, "socket_connect_timeout": 5}  # a hung Redis fails a request, not hangs it
SAFETY_API_URL = required("SAFETY_API_URL").rstrip("/")
SAFETY_TIMEOUT_S = positive_number("SAFETY_TIMEOUT_S", 2.0)
SAFETY_ATTEMPTS = 3
SAFETY_BACKOFF_S = 0.2  # doubled after each failed attempt
RATE_LIMIT_PER_MINUTE = int(positive_number("RATE_LIMIT_PER_MINUTE", 30))
RETRY_AFTER_S = 5  # what a 503 for an unavailable safety service asks the client to wait
VERDICT_TTL_S = 86_400
LINK_CACHE_TTL_S = 3_600
CLICK_QUEUE = "clicks"

# Nothing is signed across processes (no sessions, no auth): a per-process key is enough when none is set.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or secrets.token_urlsafe(50)
DEBUG = False
ALLOWED_HOSTS = [host.strip() for host in os.environ.get("DJANGO_ALLOWED_HOSTS", "*").split(",") if host.strip()]
if not ALLOWED_HOSTS:
    raise ImproperlyConfigured("DJANGO_ALLOWED_HOSTS names no host: set it to a comma-separated list, or *")

INSTALLED_APPS = ["shortener"]
MIDDLEWARE = ["shortener.middleware.ObservabilityMiddleware"]
ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

DATABASES = {"default": database_from_url(DATABASE_URL)}
DATABASES["default"].update({
    "CONN_MAX_AGE": 60,  # one connection per gunicorn thread, kept between requests
    # No health checks: they cost a `SELECT 1` before the first query of each request and of each worker
    # message. A connection that broke fails one query; Django then drops it (errors_occurred) at the end
    # of the request, the worker's middleware after the message, which Dramatiq retries.
    "CONN_HEALTH_CHECKS": False,
})
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "shortener",
        "TIMEOUT": LINK_CACHE_TTL_S,
        "OPTIONS": REDIS_TIMEOUTS,
    },
}

USE_TZ = True
TIME_ZONE = "UTC"
USE_I18N = False

LOGGING_CONFIG = None  # shortener.logs configures logging (JSON on stdout) in AppConfig.ready
