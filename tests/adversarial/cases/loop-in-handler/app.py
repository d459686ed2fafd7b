"""Answers /health, then spins for ever in every other handler (single-threaded: the app stops answering)."""

from probe_server import serve


def spin(path: str) -> None:
    if path != "/health":
        while True:
            pass


serve(threaded=False, on_request=spin)
