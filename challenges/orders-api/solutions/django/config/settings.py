"""Django settings for the Orders API.

Everything that changes between environments comes from the environment (see `.env.example`):
`SECRET_KEY` (required: signs pagination cursors), `DATABASE_URL`, `ORDERS_PER_MINUTE`, `LOG_LEVEL` and
`ALLOWED_HOSTS`. Nothing is written next to the code: no static files, logs go to stdout.
"""

import os
from pathlib import Path

from config import env

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = env.required("SECRET_KEY")
DEBUG = False
ALLOWED_HOSTS = [host.strip() for host in os.environ.get("ALLOWED_HOSTS", "*").split(",") if host.strip()]

INSTALLED_APPS = [
    "rest_framework",
    "shop.apps.ShopConfig",
]

MIDDLEWARE = [
    "shop.middleware.RequestContextMiddleware",
    "django.middleware.security.SecurityMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
APPEND_SLASH = False

DATABASES = {"default": env.database(os.environ.get("DATABASE_URL", "sqlite:///db.sqlite3"))}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en-us"
USE_I18N = False

REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "shop.api.JsonOnlyNegotiation",
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "UNAUTHENTICATED_USER": None,
    "EXCEPTION_HANDLER": "shop.errors.api_exception_handler",
    "COERCE_DECIMAL_TO_STRING": False,
}

# Order creations allowed per customer in any 60-second window.
ORDERS_PER_MINUTE = env.positive_int("ORDERS_PER_MINUTE", 30)

LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "shop.jsonlog.JsonFormatter"}},
    "handlers": {"stdout": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout", "formatter": "json"}},
    "root": {"handlers": ["stdout"], "level": LOG_LEVEL},
    "loggers": {
        # 4xx answers are already in the access log; keep django.request for server errors (with tracebacks).
        "django.request": {"level": "ERROR"},
        "django.server": {"level": "WARNING"},
    },
}
