"""The S3 artifact store against a real S3-compatible HTTP server (moto's, on loopback: tests/s3_server.py):
a round trip, a changed or truncated object refused like the Redis store refuses one, the size cap on both
sides, and one sentence for a missing bucket, denied access, an endpoint that does not answer, and a worker
asked to reach another endpoint than its own. The whole thing with real workers: tests/network/test_distributed_s3.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest

from grader.distributed.artifacts import ArtifactError, sha256_of
from grader.distributed.s3 import S3ArtifactStore
from grader.distributed.stores import open_store, store_for_task
from tests.conftest import free_port
from tests.s3_server import S3Server, s3_server

BUCKET = "grader-artifacts"


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    with s3_server() as server:
        server.client().create_bucket(Bucket=BUCKET)
        yield server


def store(s3: S3Server, prefix: str = "cohort-1", max_bytes: int = 1024 * 1024) -> S3ArtifactStore:
    opened = open_store(f"s3://{BUCKET}/{prefix}", s3.endpoint, max_bytes)
    assert isinstance(opened, S3ArtifactStore)
    return opened


def test_an_artifact_goes_into_the_bucket_under_its_hash_and_comes_back(s3: S3Server) -> None:
    artifacts = store(s3, "round/trip")
    digest = artifacts.put(b"submission bytes", "submission ada")
    assert digest == sha256_of(b"submission bytes")
    assert f"round/trip/{digest}" in s3.keys(BUCKET)  # really in the bucket, under the prefix
    assert artifacts.contains(digest)
    assert artifacts.get(digest, "submission ada") == b"submission bytes"
    assert not artifacts.contains(sha256_of(b"never sent"))
    with pytest.raises(ArtifactError, match="not in the store"):
        artifacts.get(sha256_of(b"never sent"), "submission ada")
    with pytest.raises(ArtifactError, match="not a sha256 address"):
        artifacts.get("sha256:../../other-bucket", "submission ada")


@pytest.mark.parametrize("stored", [b"submission bytez", b"submission by"], ids=["changed", "truncated"])
def test_a_changed_or_truncated_object_is_refused(s3: S3Server, stored: bytes) -> None:
    artifacts = store(s3, "tampered")
    digest = artifacts.put(b"submission bytes", "submission")
    s3.client().put_object(Bucket=BUCKET, Key=f"tampered/{digest}", Body=stored)  # swapped in the bucket
    with pytest.raises(ArtifactError, match=r"does not match its hash .* it was changed after it was sent"):
        artifacts.get(digest, "submission")
    assert artifacts.put(b"submission bytes", "submission") == digest  # sending it again repairs the copy
    assert artifacts.get(digest, "submission") == b"submission bytes"


def test_an_archive_over_the_cap_is_refused_on_both_sides(s3: S3Server) -> None:
    small = store(s3, "capped", max_bytes=1024)
    with pytest.raises(ArtifactError, match=r"submission bob is 0\.0 MiB, over the 0 MiB cap.*--max-artifact-mb"):
        small.put(b"x" * 2048, "submission bob")
    assert not any(key.startswith("capped/") for key in s3.keys(BUCKET))
    # Stored by a coordinator with a larger cap: this side refuses it before reading it.
    digest = store(s3, "capped", max_bytes=4096).put(b"y" * 2048, "submission bob")
    with pytest.raises(ArtifactError, match="over the 0 MiB cap for artifacts; shrink it or raise --max-artifact-mb"):
        small.get(digest, "submission bob")


def test_a_missing_bucket_is_one_sentence_before_anything_is_sent(s3: S3Server) -> None:
    with pytest.raises(ArtifactError) as caught:
        open_store("s3://no-such-bucket/x", s3.endpoint, 1024)
    assert str(caught.value) == (f"the bucket 'no-such-bucket' does not exist at {s3.endpoint}; create it or fix "
                                 "--artifacts")


def test_an_endpoint_that_does_not_answer_is_one_sentence() -> None:
    nobody = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ArtifactError, match=rf"^the artifact store at {nobody} cannot be reached \(.*\); check "
                                            r"--artifacts-endpoint \(or AWS_ENDPOINT_URL\) and that it is running$"):
        open_store(f"s3://{BUCKET}/x", nobody, 1024)


def test_denied_access_is_one_sentence_without_the_credentials(s3: S3Server, monkeypatch: pytest.MonkeyPatch) -> None:
    iam = boto3.client("iam", endpoint_url=s3.endpoint, region_name="us-east-1")
    iam.create_user(UserName="reader")
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:List*", "s3:Get*", "s3:Head*"],
         "Resource": [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"]}]}
    iam.put_user_policy(UserName="reader", PolicyName="read-only", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName="reader")["AccessKey"]
    s3.require_signatures(True)
    try:
        with pytest.raises(ArtifactError) as unknown:  # a key the server does not know: refused up front
            store(s3, "denied")
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
        reader = store(s3, "denied")  # may see the bucket, not write to it
        with pytest.raises(ArtifactError) as read_only:
            reader.put(b"bytes", "submission cy")
    finally:
        s3.require_signatures(False)
    advice = "check the AWS credentials the grader runs with (AWS_ACCESS_KEY_ID, AWS_PROFILE) and the bucket's policy"
    where = f"s3://{BUCKET}/denied/ at {s3.endpoint}"
    assert str(unknown.value) == f"access to {where} is denied (403); {advice}"
    assert str(read_only.value) == f"access to {where} is denied (AccessDenied); {advice}"
    for secret in (key["SecretAccessKey"], key["AccessKeyId"], "grader-test-secret"):
        assert secret not in str(unknown.value) + str(read_only.value)


def test_a_worker_opens_the_store_a_task_names_at_its_own_endpoint_only(s3: S3Server) -> None:
    coordinator = store(s3, "from/a/task")
    digest = coordinator.put(b"challenge bundle", "challenge")
    location = coordinator.location().to_json()
    assert location == {"scheme": "s3", "bucket": BUCKET, "prefix": "from/a/task/", "endpoint": s3.endpoint,
                        "region": "us-east-1"}  # where, never who: no credentials travel
    worker = store_for_task(location, s3.endpoint, 1024)
    assert worker.get(digest, "challenge") == b"challenge bundle"
    elsewhere = {**location, "endpoint": "http://169.254.169.254"}  # a message may not send the worker elsewhere
    with pytest.raises(ArtifactError, match=r"^the task's artifacts are at http://169\.254\.169\.254 but this "
                                            rf"worker reaches {s3.endpoint}: start it with --artifacts-endpoint"):
        store_for_task(elsewhere, s3.endpoint, 1024)
