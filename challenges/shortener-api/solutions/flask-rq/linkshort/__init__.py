"""Link shortener with click analytics: Flask on gunicorn threads, PostgreSQL, Redis, an RQ click worker."""
