"""A package index on loopback (PEP 691 JSON), serving files the test wrote: projects no public index has.

`uv` and the grader's index client both read it; point uv at it with `UV_INDEX` (an extra index, searched
before the default one, so everything else still comes from the operator's index).
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from packaging.utils import canonicalize_name


def project_of(filename: str) -> str:
    """`grader_evil-1.0.tar.gz` -> `grader-evil`."""
    return str(canonicalize_name(filename.split("-", 1)[0]))


@contextmanager
def local_index(files_dir: Path) -> Iterator[str]:
    """Serve every file in `files_dir`; yields the index URL (`http://127.0.0.1:PORT/simple/`)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = [part for part in self.path.split("/") if part]
            if len(parts) == 2 and parts[0] == "simple":
                self._project(canonicalize_name(parts[1]))
            elif len(parts) == 2 and parts[0] == "files" and (files_dir / parts[1]).is_file():
                self._send(200, (files_dir / parts[1]).read_bytes(), "application/octet-stream")
            else:
                self._send(404, b"not found", "text/plain")

        def _project(self, name: str) -> None:
            found = [path for path in sorted(files_dir.iterdir()) if project_of(path.name) == name]
            if not found:
                self._send(404, b"not found", "text/plain")
                return
            page = {"meta": {"api-version": "1.1"}, "name": name, "files": [
                {"filename": path.name, "url": f"/files/{path.name}",
                 "hashes": {"sha256": hashlib.sha256(path.read_bytes()).hexdigest()},
                 "upload-time": "2024-01-01T00:00:00Z"} for path in found]}
            self._send(200, json.dumps(page).encode(), "application/vnd.pypi.simple.v1+json")

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/simple/"
    finally:
        server.shutdown()
        server.server_close()


def write_sdist(directory: Path, name: str, version: str, files: dict[str, str]) -> Path:
    """A source archive `<name>-<version>.tar.gz` holding `files` under its top directory, plus PKG-INFO."""
    stem = f"{name.replace('-', '_')}-{version}"
    path = directory / f"{stem}.tar.gz"
    contents = {"PKG-INFO": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", **files}
    with tarfile.open(path, "w:gz") as archive:
        for relative, text in contents.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{stem}/{relative}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path
