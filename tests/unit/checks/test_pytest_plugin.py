"""The runner's pytest plugin, run for real against a tiny HTTP server."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from grader.checks.registry import HIDDEN_TESTS
from grader.checks.spec import CheckContext, CheckOutput
from grader.checks.suite import SuiteCheckSpec
from grader.models import CheckStatus

SUITE = '''
import pytest

@pytest.mark.category("api_design")
def test_hello_ok(client):
    assert client.get("/hello").status_code == 200

@pytest.mark.category("api_design")
def test_missing_is_404(client):
    assert client.get("/missing").status_code == 200, "expected the server to be wrong"

@pytest.mark.category("observability")
def test_health(client):
    assert client.get("/health").json() == {"status": "ok"}

@pytest.mark.category("observability")
@pytest.mark.skip(reason="not today")
def test_skipped(client):
    pass

def test_without_category(base_url):
    assert base_url.startswith("http://127.0.0.1:")

@pytest.fixture
def broken():
    raise RuntimeError("fixture exploded")

@pytest.mark.category("databases")
def test_setup_error(broken):
    pass

@pytest.mark.category("infrastructure", weight=3)
def test_heavy(client):
    assert client.get("/hello").status_code == 200

@pytest.mark.category("infrastructure", weight=0.5)
def test_light_fails(client):
    assert client.get("/missing").status_code == 200

@pytest.mark.category("infrastructure", weight="lots")
def test_bad_weight_counts_once(client):
    assert client.get("/health").status_code == 200

def test_outside_the_grader_the_hooks_skip(app_log, restart_app, stop_app):
    pass
'''


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status = 200 if self.path in ("/hello", "/health") else 404
        body = json.dumps({"status": "ok"}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def run_check(tmp_path: Path, app_url: str, check: SuiteCheckSpec) -> list:  # type: ignore[type-arg]
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "test_suite.py").write_text(SUITE)
    out = tmp_path / "out"
    out.mkdir()
    argv = check.command(CheckContext(str(suite), str(out), sys.executable, app_url=app_url))
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=tmp_path, check=False)
    return check.parse(CheckOutput(out, proc.returncode, proc.stdout + proc.stderr))


def test_verdicts_grouped_by_category(tmp_path: Path, server: str) -> None:
    results = {r.category: r for r in run_check(tmp_path, server, HIDDEN_TESTS)}
    api = results["api_design"]
    assert (api.score, api.max_score, api.status) == (1, 2, CheckStatus.FAILED)
    assert api.findings[0].rule == "test_missing_is_404"
    assert "expected the server to be wrong" in (api.findings[0].message or "")
    obs = results["observability"]
    assert (obs.score, obs.max_score, obs.status) == (1, 1, CheckStatus.PASSED)
    assert [t.outcome for t in obs.tests] == ["passed", "skipped"]
    db = results["databases"]
    assert db.tests[0].outcome == "error" and "fixture exploded" in (db.tests[0].message or "")
    loose = results["uncategorized"]
    assert loose.status == CheckStatus.SKIPPED and loose.max_score == 0
    assert "no valid @pytest.mark.category" in loose.findings[0].message


def test_fail_all_counts_every_test_without_contacting_the_app(tmp_path: Path) -> None:
    failing_all = replace(HIDDEN_TESTS, fail_all_reason="app did not start")
    results = {r.category: r for r in run_check(tmp_path, "http://127.0.0.1:9", failing_all)}
    assert results["api_design"].score == 0 and results["api_design"].max_score == 2
    assert all((t.message or "").endswith("app did not start") for t in results["api_design"].tests)
    assert results["databases"].max_score == 1


def test_missing_report_is_the_graders_error(tmp_path: Path) -> None:
    results = HIDDEN_TESTS.parse(CheckOutput(tmp_path, 4, "ERROR: usage"))
    assert results[0].status == CheckStatus.ERROR
    assert "produced no report" in results[0].summary


def test_weights_share_a_categorys_points(tmp_path: Path, server: str) -> None:
    results = {r.category: r for r in run_check(tmp_path, server, HIDDEN_TESTS)}
    infra = results["infrastructure"]
    assert (infra.score, infra.max_score) == (4.0, 4.5)
    assert {t.name: t.weight for t in infra.tests} == {"test_heavy": 3.0, "test_light_fails": 0.5,
                                                       "test_bad_weight_counts_once": 1.0}
    loose = {t.name: t.outcome for t in results["uncategorized"].tests}
    assert loose["test_outside_the_grader_the_hooks_skip"] == "skipped"
