"""The shortener-api bundle proves itself: `grader challenge validate shortener-api` in the Docker sandbox.

The three references (FastAPI with Celery, Flask with RQ, Django with Dramatiq) must pass every hidden test
(>= 95), each
flawed solution must fail exactly its expected tests with its flaw as the lowest category, `flawed_margin`
below the reference, and its report must name what the probes observed: a redirect that waits on a blocked
database write, two safety calls for one URL (one per replica), a rate limit each replica counts alone, a
health check and a redirect stalled by a pending upstream call, a request whose trace never reached the
grader's OTLP receiver, a /metrics that is not there. The starter must fail the hidden suite.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from grader.challenge import load_challenge
from tests.unit.grader.test_authoring import verdict_lines
from tests.unit.grader.test_losses import assert_no_rule_formula

SHORTENER = load_challenge("shortener-api")
pytestmark = [pytest.mark.slow, pytest.mark.docker]

# What each flawed solution's report must say it observed (a substring of a deduction's reason).
OBSERVED = {
    "flawed-sync-clicks": ["did not answer while the grader blocked writes", "waited on a database write"],
    "flawed-naive-upstream": ["made 2 safety calls", "the health check stalled",
                              "each instance counts only its own requests", "when the app got SIGTERM"],
    "flawed-no-observability": ["did not export a span with kind 'SERVER'", "GET /metrics answered 404"],
    "flawed-in-process-state": ["made 2 safety calls", "each instance counts only its own requests",
                                "the link cache lives in each process's memory"],
    "flawed-blocking-async": ["the health check stalled", "a redirect stalled"],
}


def _deduction_reasons(result: dict[str, Any]) -> str:
    return "\n".join(d["reason"] for check in result["checks"] for d in check.get("deductions", []))


def test_shortener_api_validates_in_docker(docker_client: Any, tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "grader", "challenge", "validate", "shortener-api", "--sandbox",
                           "docker", "--out", str(tmp_path)], capture_output=True, text=True, timeout=2400, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    verdicts = verdict_lines(proc.stdout)
    for name in SHORTENER.solutions:
        assert verdicts[f"solution {name}"].startswith("ok "), verdicts
    assert verdicts["flawed margin"].startswith("ok "), verdicts
    assert verdicts["starter"].startswith("ok fails the hidden suite")

    results = {p.parent.name: json.loads(p.read_text()) for p in tmp_path.glob("solutions/*/result.json")}
    references = [name for name, expected in SHORTENER.solutions.items() if expected.kind == "reference"]
    assert sorted(references) == ["django-dramatiq", "fastapi", "flask-rq"]
    for name in references:
        assert results[name]["overall"] >= 95, name
        hidden = [t for c in results[name]["checks"] if c["id"].startswith("hidden-tests/") for t in c["tests"]]
        assert hidden and all(t["outcome"] == "passed" for t in hidden), name
        assert {t["category"] for t in hidden} >= {"api_design", "databases", "infrastructure", "observability",
                                                   "python_fundamentals"}
    for name, phrases in OBSERVED.items():
        reasons = _deduction_reasons(results[name])
        for phrase in phrases:
            assert phrase in reasons, (name, phrase, reasons)

    # Plain language (issue 21): no rule formula in the review text of any solution of this challenge.
    assert_no_rule_formula(results)
