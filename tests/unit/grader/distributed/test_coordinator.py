"""The coordinator's failures before anything is sent. Grading through real workers:
tests/network/test_distributed.py."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from grader.distributed.protocol import redacted
from tests.conftest import REPO_ROOT


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # free once the socket closes: nothing listens there


def test_an_unreachable_broker_is_one_sentence_without_the_password(tmp_path: Path) -> None:
    url = f"redis://:hunter2@127.0.0.1:{closed_port()}/0"
    solution = REPO_ROOT / "challenges" / "hello-api" / "solutions" / "fastapi-ref"
    proc = subprocess.run([sys.executable, "-m", "grader", "grade", str(solution), "--challenge", "hello-api",
                           "--broker", url, "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 3, proc.stderr
    assert "cannot use the broker redis://***@127.0.0.1:" in proc.stderr
    assert "hunter2" not in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "out" / "fastapi-ref").exists()


def test_a_broker_url_is_shown_without_its_password() -> None:
    assert redacted("redis://:pw@host:6379/0") == "redis://***@host:6379/0"
    assert redacted("rediss://user:pw@host:6380/1") == "rediss://***@host:6380/1"
    assert redacted("redis://host:6379/0") == "redis://host:6379/0"
