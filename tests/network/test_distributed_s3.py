"""Grading on many machines with the archives in an S3-compatible bucket, for real: a private `redis-server` as
the broker, moto's S3-compatible HTTP server on loopback (tests/s3_server.py) as the store, two `grader worker`
processes (local backend, a cache each) and `grader grade --broker ... --artifacts s3://...` as the coordinator.

- a cohort graded through the bucket equals the same cohort graded again (`--force`) through the broker's
  Redis; every archive (challenge, submissions, results) is in the bucket and none under Redis' artifact keys;
  the workers read the submissions from the bucket and wrote the results there (the server's request log);
  a run without `--artifacts` in between finds the gradings finished but their results not in Redis, and
  sends them again instead of failing;
- an object changed in the bucket after it was sent is refused by the worker, nothing graded;
- a missing bucket is one sentence and exit 3 before anything is sent; `--artifacts` without `--broker` is a
  usage error.

The store on its own (round trip, cap, denied access, ...): tests/unit/grader/distributed/test_s3.py. The Redis
path in full: tests/network/test_distributed.py, whose helpers this module shares.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from grader.challenge import load_challenge
from grader.distributed.artifacts import KEY_PREFIX, pack_directory, sha256_of
from grader.distributed.protocol import DONE_PREFIX, TASK_NAME, GradingTask
from grader.distributed.stores import open_store
from grader.distributed.worker import make_app
from tests.distributed import (
    GRADE_DEADLINE_S,
    SOLUTIONS,
    VISIBILITY_TIMEOUT_S,
    Worker,
    broker,
    read_results,
    start_worker,
    stop_worker,
    verdicts,
    wait_for,
)
from tests.s3_server import S3Server, s3_server

pytestmark = pytest.mark.slow
__all__ = ["broker"]  # the module-scoped fixture, shared with the Redis half
BUCKET = "grader-e2e"
PREFIX = "cohort-2026/"
COHORT = {"ada": "fastapi-ref", "bob": "fastapi-flawed", "cy": "flask-ref"}


class RequestLog(logging.Handler):
    """The S3 server's access log lines ("GET /bucket/key HTTP/1.1" 200), as the server wrote them."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())

    def requests(self, method: str) -> set[str]:
        """The object names requested with `method` that succeeded (2xx)."""
        pattern = re.compile(rf'"{method} /{BUCKET}/([^ ?]+)[^"]* HTTP/1\.1" 2\d\d')
        return {match.group(1) for line in self.lines for match in [pattern.search(line)] if match}


@pytest.fixture(scope="module")
def s3() -> Iterator[tuple[S3Server, RequestLog]]:
    log = RequestLog()
    werkzeug = logging.getLogger("werkzeug")  # moto's server logs each request there
    previous = werkzeug.level
    werkzeug.addHandler(log)
    werkzeug.setLevel(logging.INFO)
    try:
        with s3_server() as server:  # the AWS test credentials are in the environment the workers inherit
            server.client().create_bucket(Bucket=BUCKET)
            yield server, log
    finally:
        werkzeug.removeHandler(log)
        werkzeug.setLevel(previous)


@pytest.fixture(scope="module")
def s3_workers(broker: str, s3: tuple[S3Server, RequestLog],
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Worker]]:
    server, _ = s3
    home = tmp_path_factory.mktemp("s3-workers")
    endpoint = ("--artifacts-endpoint", server.endpoint)
    started = [start_worker(broker, "s3one", home / "one", extra=endpoint),
               start_worker(broker, "s3two", home / "two", extra=endpoint)]
    try:
        yield started
    finally:
        for worker in started:
            stop_worker(worker)


def grade_remote(arguments: list[str], out: Path, broker: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "grader", "-v", "grade", *arguments, "--challenge", "hello-api", "--out", str(out),
            "--format", "json", "--broker", broker]
    return subprocess.run(argv, capture_output=True, text=True, timeout=GRADE_DEADLINE_S, check=False)


def redis_client(broker: str) -> Any:
    import redis

    return redis.Redis.from_url(broker)


def test_a_cohort_through_the_bucket_equals_one_through_redis(
    broker: str, s3: tuple[S3Server, RequestLog], s3_workers: list[Worker], tmp_path: Path,
) -> None:
    server, requests = s3
    cohort = tmp_path / "cohort"
    for name, solution in COHORT.items():
        shutil.copytree(SOLUTIONS / solution, cohort / name, copy_function=shutil.copy2)
    artifacts = ["--artifacts", f"s3://{BUCKET}/{PREFIX}", "--artifacts-endpoint", server.endpoint]
    through_s3 = grade_remote([str(cohort), *artifacts], tmp_path / "s3-out", broker)
    assert through_s3.returncode == 0, through_s3.stderr[-3000:]

    redis = redis_client(broker)
    assert redis.keys(KEY_PREFIX + "*") == []  # not one archive went through the broker's Redis
    results = {str(json.loads(redis.get(key))["result"]) for key in redis.keys(DONE_PREFIX + "*")}
    assert len(results) == len(COHORT)
    challenge = load_challenge("hello-api")
    submissions = {sha256_of(pack_directory(cohort / name)) for name in COHORT}
    in_bucket = set(server.keys(BUCKET))
    expected = {PREFIX + digest for digest in {sha256_of(pack_directory(Path(challenge.root))), *submissions, *results}}
    assert expected <= in_bucket, sorted(expected - in_bucket)
    # The coordinator only writes submissions and reads results: the workers read these and wrote those.
    assert {PREFIX + digest for digest in submissions} <= requests.requests("GET")
    assert {PREFIX + digest for digest in results} <= requests.requests("PUT")

    # Without --artifacts, into a new --out: the broker remembers these gradings as finished, but their results
    # are in the bucket, not in Redis, so they are sent again (not refused as missing) and come back through Redis.
    received = sum(worker.text().count("received") for worker in s3_workers)
    resumed = grade_remote([str(cohort)], tmp_path / "resumed-out", broker)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert sum(worker.text().count("received") for worker in s3_workers) == received + len(COHORT)
    from_s3, from_resumed = (read_results(tmp_path / out, list(COHORT)) for out in ("s3-out", "resumed-out"))
    assert all(verdicts(from_resumed[name]) == verdicts(from_s3[name]) for name in COHORT)

    through_redis = grade_remote([str(cohort), "--force"], tmp_path / "redis-out", broker)  # graded again
    assert through_redis.returncode == 0, through_redis.stderr[-3000:]
    assert redis.keys(KEY_PREFIX + "*"), "the Redis run keeps its archives in Redis, as before"
    from_redis = read_results(tmp_path / "redis-out", list(COHORT))
    for name in COHORT:
        assert verdicts(from_s3[name]) == verdicts(from_redis[name]), name
        assert from_s3[name]["submission"]["source"] == str(cohort / name)
    assert {from_s3[name]["status"] for name in COHORT} == {"graded"}


def test_an_object_changed_in_the_bucket_is_refused_by_the_worker(
    broker: str, s3: tuple[S3Server, RequestLog], s3_workers: list[Worker],
) -> None:
    server, _ = s3
    store = open_store(f"s3://{BUCKET}/tampered", server.endpoint, 200 * 1024 * 1024)
    challenge = load_challenge("hello-api")
    challenge_hash = store.put(pack_directory(Path(challenge.root)), "challenge")
    digest = store.put(pack_directory(SOLUTIONS / "fastapi-ref"), "submission")
    server.client().put_object(Bucket=BUCKET, Key=f"tampered/{digest}",  # swapped after sending
                               Body=pack_directory(SOLUTIONS / "fastapi-flawed"))
    location = store.location()
    assert location is not None
    task = GradingTask(name="mallory", filename="mallory", source_kind="directory", submission=digest,
                       challenge=challenge_hash, challenge_id=challenge.id, artifacts=location.to_json())
    app = make_app(broker, "grader", VISIBILITY_TIMEOUT_S)
    sent = app.send_task(TASK_NAME, args=[task.to_json()], task_id=f"{task.key()}-tampered-s3")
    wait_for(lambda: sent.state in ("FAILURE", "SUCCESS"), "the worker's verdict on the tampered task")
    assert sent.state == "FAILURE"
    assert "does not match its hash" in str(sent.info)
    assert all("mallory: taking a snapshot" not in worker.text() for worker in s3_workers)


def test_a_missing_bucket_stops_the_coordinator_before_anything_is_sent(
    broker: str, s3: tuple[S3Server, RequestLog], tmp_path: Path,
) -> None:
    server, _ = s3
    queued = redis_client(broker).llen("grader")
    proc = grade_remote([str(SOLUTIONS / "fastapi-ref"), "--artifacts", "s3://no-such-bucket/x",
                         "--artifacts-endpoint", server.endpoint], tmp_path / "out", broker)
    assert proc.returncode == 3, proc.stderr[-3000:]
    assert f"the bucket 'no-such-bucket' does not exist at {server.endpoint}; create it or fix --artifacts" in \
        proc.stderr, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    assert redis_client(broker).llen("grader") == queued
    assert not (tmp_path / "out" / "fastapi-ref").exists()


def test_artifacts_without_a_broker_is_a_usage_error(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "grader", "grade", str(SOLUTIONS / "fastapi-ref"), "--challenge",
                           "hello-api", "--out", str(tmp_path / "out"), "--artifacts", f"s3://{BUCKET}/x"],
                          capture_output=True, text=True, timeout=GRADE_DEADLINE_S, check=False)
    assert proc.returncode == 2, proc.stderr
    assert "--artifacts and --artifacts-endpoint are for grading on workers: give --broker URL too" in proc.stderr
