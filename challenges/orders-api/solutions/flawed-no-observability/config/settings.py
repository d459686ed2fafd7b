"""Django settings for the Orders API.

`DATABASE_URL`, `ORDERS_PER_MINUTE` and `SECRET_KEY` (signs pagination cursors) come from the environment;
the local values I use are in `.env`.
"""

import os
from pathlib import Path

from config import env

BASE_DIR = Path(__file__).resolve().parent.parent

# TODO: remove the fallback before deploying
SECRET_KEY = os.environ.get("SECRET_KEY", "django-insecure-7q$vz2k!w9m@c4r#e8t1y5u0i3o6p(x)b-n_h&j=l%a*s+d")
DEBUG = True
ALLOWED_HOSTS = [host.strip() for host in os.environ.get("ALLOWED_HOSTS", "*").split(",") if host.strip()]

INSTALLED_APPS = [
    "rest_framework",
    "shop.apps.ShopConfig",
]

MIDDLEWARE = [
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

print("config:", {name: os.environ.get(name) for name in ("DATABASE_URL", "SECRET_KEY", "ORDERS_PER_MINUTE")})
