"""A whole grading on the Docker backend of the tiny observability challenge: the app exports its spans to the
runner's OTLP receiver on the pod's loopback (port 4318) and the hidden suite reads them and the app's metrics
(the runner image holds opentelemetry-proto and prometheus-client). The same on the local backend:
tests/network/test_observability.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from grader.challenge import load_challenge
from grader.sandbox.docker import DockerSandbox
from tests.network.test_observability import BUNDLE, assert_spans_and_metrics_were_read, hidden_verdicts

pytestmark = pytest.mark.slow


@pytest.mark.docker
def test_a_docker_grading_reads_the_apps_spans_and_metrics(docker_client: Any, tmp_path: Path) -> None:
    sandbox = DockerSandbox(python=load_challenge(str(BUNDLE)).python, client=docker_client)
    assert_spans_and_metrics_were_read(hidden_verdicts(sandbox, tmp_path))
