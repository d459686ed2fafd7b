"""Downloads into the store from many threads at once: the threads of one grading fetch wheel files in
parallel (`grader.index.fetch_all`) and two gradings at -j2 may want the same file at the same moment."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from grader import index

BODY = bytes(range(256)) * 4096  # 1 MiB
CHUNK = 64 * 1024


@contextmanager
def slow_file_server() -> Iterator[str]:
    """Serve BODY at /files/pkg-1.0-py3-none-any.whl in small pieces with pauses, so downloads that start
    together are still running together (the pauses only stretch each download; nothing is timed)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(BODY)))
            self.end_headers()
            for start in range(0, len(BODY), CHUNK):
                self.wfile.write(BODY[start:start + CHUNK])
                self.wfile.flush()
                time.sleep(0.02)

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/files/pkg-1.0-py3-none-any.whl"
    finally:
        server.shutdown()
        server.server_close()


def test_threads_fetching_the_same_file_at_once_all_get_it_whole(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRADER_CACHE_DIR", str(tmp_path / "cache"))
    sha256 = hashlib.sha256(BODY).hexdigest()
    with slow_file_server() as url, ThreadPoolExecutor(max_workers=6) as pool:
        paths = list(pool.map(lambda _: index.fetch(url, sha256, "pkg-1.0-py3-none-any.whl"), range(6)))
    assert len(set(paths)) == 1 and paths[0].read_bytes() == BODY
    assert [p.name for p in paths[0].parent.iterdir()] == ["pkg-1.0-py3-none-any.whl"], "no partial file left"
