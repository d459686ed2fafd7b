"""The WSGI application gunicorn serves (`gunicorn config.wsgi`), with tracing set up."""

import os

from django.core.wsgi import get_wsgi_application

from shortener.telemetry import setup_tracing

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()
setup_tracing()  # in the serving process (after gunicorn's fork): its span exporter thread lives here
