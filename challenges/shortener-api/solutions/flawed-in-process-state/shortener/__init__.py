"""Link shortener with click analytics: FastAPI app, Redis cache and queue, PostgreSQL, a click worker."""
