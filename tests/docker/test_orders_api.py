"""The orders-api bundle proves itself: `grader challenge validate orders-api` in the real Docker sandbox.

Every reference solution must land in its band (>= 95) with every hidden test passing, every flawed one in
its band with exactly its expected failures, its weakest category the one its flaw targets, and at least
`flawed_margin` points below the lowest reference; the starter must fail the hidden suite.
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

ORDERS = load_challenge("orders-api")
pytestmark = [pytest.mark.slow, pytest.mark.docker]


def test_orders_api_validates_in_docker(docker_client: Any, tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "grader", "challenge", "validate", "orders-api", "--sandbox", "docker",
                           "--out", str(tmp_path)], capture_output=True, text=True, timeout=2400, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    verdicts = verdict_lines(proc.stdout)
    references = [name for name, e in ORDERS.solutions.items() if e.kind == "reference"]
    flawed = [name for name, e in ORDERS.solutions.items() if e.kind == "flawed"]
    assert len(references) == 3 and len(flawed) >= 4
    for name in ORDERS.solutions:
        assert verdicts[f"solution {name}"].startswith("ok "), verdicts
    assert verdicts["flawed margin"].startswith("ok "), verdicts
    assert verdicts["starter"].startswith("ok fails the hidden suite")

    results = {p.parent.name: json.loads(p.read_text()) for p in tmp_path.glob("solutions/*/result.json")}
    lowest_reference = min(results[name]["overall"] for name in references)
    assert lowest_reference >= 95
    for name in references:
        hidden = [t for c in results[name]["checks"] if c["id"].startswith("hidden-tests/") for t in c["tests"]]
        assert hidden and all(t["outcome"] == "passed" for t in hidden), name
        assert {c["id"] for c in results[name]["categories"] if c["evaluated"]} == set(ORDERS.scorecard)
    for name in flawed:
        assert results[name]["overall"] <= lowest_reference - 15, name
        scores = {c["id"]: c["score"] for c in results[name]["categories"] if c["evaluated"]}
        assert min(scores, key=lambda cid: scores[cid]) == ORDERS.solutions[name].weakest_category or (
            scores[ORDERS.solutions[name].weakest_category or ""] == min(scores.values())), (name, scores)

    # Plain language (issue 21): no rule formula in the review text of any solution of this challenge.
    assert_no_rule_formula(results)
