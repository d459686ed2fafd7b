"""Link shortener with click analytics: Django on gunicorn threads, PostgreSQL, Redis, a Dramatiq worker."""
