"""Choosing an artifact store: `--artifacts` URLs and endpoints (each mistake one sentence), the location a task
message carries (no credentials, checked like the URL on the worker), and the message of a Redis-store run
left exactly as before. The S3 store itself against a real S3-compatible server: test_s3.py."""

from __future__ import annotations

import pytest

from grader.distributed.artifacts import ArtifactError
from grader.distributed.protocol import GradingTask
from grader.distributed.stores import (
    STORES,
    StoreLocation,
    configured_endpoint,
    parse_artifacts_url,
    store_for_task,
)

HASH = "sha256:" + "a" * 64


@pytest.mark.parametrize(("url", "bucket", "prefix"), [
    ("s3://grader-artifacts", "grader-artifacts", ""),
    ("s3://grader-artifacts/", "grader-artifacts", ""),
    ("s3://grader.artifacts/cohorts/2026-12", "grader.artifacts", "cohorts/2026-12/"),
    ("s3://art/a//b/", "art", "a/b/"),
])
def test_an_s3_url_names_a_bucket_and_a_prefix(url: str, bucket: str, prefix: str) -> None:
    assert parse_artifacts_url(url) == StoreLocation("s3", bucket, prefix)


@pytest.mark.parametrize(("url", "message"), [
    ("redis://localhost:6379/0", r"^--artifacts 'redis://localhost:6379/0' is not a store this grader knows: "
                                 r"give s3://BUCKET/PREFIX \(without --artifacts the broker's Redis holds"),
    ("/tmp/artifacts", "is not a store this grader knows"),
    ("s3://KEY:SECRET@bucket/x", r"^--artifacts s3://\*\*\*@bucket/x must be s3://BUCKET/PREFIX only: credentials "
                                 "go in the AWS environment variables or config, never in the URL$"),
    ("s3://bucket:9000/x", "must be s3://BUCKET/PREFIX only"),
    ("s3://bucket/x?versionId=1", "must be s3://BUCKET/PREFIX only"),
    ("s3://Upper_Case/x", r"^--artifacts: 'Upper_Case' is not a valid bucket name \(3-63 lowercase"),
    ("s3://ab/x", "is not a valid bucket name"),
    ("s3://a..b/x", "is not a valid bucket name"),
    ("s3:///x", "is not a valid bucket name"),
    ("s3://bucket/../other", r"^--artifacts: the prefix '/\.\./other' may hold only letters, digits"),
    ("s3://bucket/a b", "may hold only letters, digits"),
])
def test_a_wrong_artifacts_url_is_one_sentence(url: str, message: str) -> None:
    with pytest.raises(ArtifactError, match=message):
        parse_artifacts_url(url)


def test_the_secret_in_a_refused_url_is_never_repeated() -> None:
    with pytest.raises(ArtifactError) as caught:
        parse_artifacts_url("s3://AKIAEXAMPLE:hunter2@bucket/x")
    assert "hunter2" not in str(caught.value) and "AKIAEXAMPLE" not in str(caught.value)
    with pytest.raises(ArtifactError) as endpoint:
        parse_artifacts_url("s3://bucket/x", "http://minio:hunter2@minio.internal:9000")
    assert "hunter2" not in str(endpoint.value)
    assert "credentials go in the AWS environment variables or config" in str(endpoint.value)


@pytest.mark.parametrize(("endpoint", "expected"), [
    (None, None),
    ("", None),
    ("http://minio.internal:9000/", "http://minio.internal:9000"),
    ("https://s3.eu-west-1.amazonaws.com", "https://s3.eu-west-1.amazonaws.com"),
])
def test_an_endpoint_is_an_http_url_normalised(endpoint: str | None, expected: str | None) -> None:
    assert parse_artifacts_url("s3://bucket/x", endpoint).endpoint == expected


@pytest.mark.parametrize("endpoint", ["minio.internal:9000", "ftp://minio.internal", "http://", "http://h/?a=1"])
def test_a_wrong_endpoint_is_one_sentence(endpoint: str) -> None:
    with pytest.raises(ArtifactError, match=r"^--artifacts-endpoint .* (is not an http|must be http)"):
        parse_artifacts_url("s3://bucket/x", endpoint)


def test_the_endpoint_comes_from_the_option_else_the_aws_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    assert configured_endpoint(None) is None
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://everything:9000")
    assert configured_endpoint(None) == "http://everything:9000"
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://s3-only:9000/")
    assert configured_endpoint(None) == "http://s3-only:9000"
    assert configured_endpoint("http://given:9000") == "http://given:9000"


def test_the_registry_is_explicit() -> None:
    assert sorted(STORES) == ["s3"]


def test_a_location_travels_as_json_and_comes_back_checked() -> None:
    location = StoreLocation("s3", "bucket", "a/b/", "http://minio:9000", "eu-west-1")
    assert StoreLocation.from_json(location.to_json()) == location


@pytest.mark.parametrize("data", [
    None, "s3://bucket/x", {"scheme": "s3", "bucket": "bucket"},
    {"scheme": "s3", "bucket": "bucket", "prefix": "", "endpoint": None, "region": None, "secret": "x"},
    {"scheme": "s3", "bucket": "bucket", "prefix": 3, "endpoint": None, "region": None},
    {"scheme": "file", "bucket": "bucket", "prefix": "", "endpoint": None, "region": None},
    {"scheme": "s3", "bucket": "bucket", "prefix": "../x", "endpoint": None, "region": None},
    {"scheme": "s3", "bucket": "bucket", "prefix": "", "endpoint": "http://a:b@evil", "region": None},
    {"scheme": "s3", "bucket": "bucket", "prefix": "", "endpoint": None, "region": "evil.com/x"},
])
def test_a_malformed_location_in_a_message_is_refused(data: object) -> None:
    with pytest.raises(ArtifactError):
        store_for_task(data, None, 1024)


def task(artifacts: dict[str, str | None] | None = None) -> GradingTask:
    return GradingTask(name="ada", filename="ada", source_kind="directory", submission=HASH, challenge=HASH,
                       challenge_id="hello-api", artifacts=artifacts)


def test_with_the_redis_store_the_message_is_the_one_of_before() -> None:
    body = task().to_json()
    assert "artifacts" not in body  # a worker of the previous release reads it as before
    assert GradingTask.from_json(body) == task()


def test_the_store_s_location_travels_in_the_message_but_is_not_part_of_the_key() -> None:
    location = StoreLocation("s3", "bucket", "x/", "http://minio:9000", "us-east-1").to_json()
    in_s3 = task(location)
    assert GradingTask.from_json(in_s3.to_json()) == in_s3
    assert in_s3.key() == task().key()  # the same grading, wherever its archives travel


def test_a_location_that_is_not_an_object_is_refused_in_the_message() -> None:
    with pytest.raises(Exception, match="artifact store is malformed"):
        GradingTask.from_json({**task().to_json(), "artifacts": "s3://bucket/x"})
