"""Choosing the artifact store: `--artifacts URL` picks one by its scheme from an explicit registry (`STORES`),
and a task message carries the chosen store's location so that a worker opens the same one.

The location is data, never credentials: the scheme, bucket, prefix, region and endpoint. A worker takes the
bucket, prefix and region from the message, but connects only to the endpoint it was itself configured with
(`grader worker --artifacts-endpoint`, `AWS_ENDPOINT_URL`, or AWS's own) and with its own credentials; a message
naming another endpoint is refused. Whatever it reads is still checked against its hash.
Without `--artifacts` the broker's Redis is the store and messages carry no location.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

from grader.distributed.artifacts import ArtifactError, ArtifactStore

STORE_ENV = "GRADER_ARTIFACTS_URL"
ENDPOINT_ENVS = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")  # the AWS SDKs' own, most specific first
# S3's bucket naming rules (MinIO and the others follow them): 3-63 lowercase letters, digits, dots, hyphens.
BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
PREFIX_PART = re.compile(r"[A-Za-z0-9._=+-]+")
LOCATION_FIELDS = ("scheme", "bucket", "prefix", "endpoint", "region")
REGION_NAME = re.compile(r"[a-z0-9-]{1,40}")


@dataclass(frozen=True)
class StoreLocation:
    """Where artifacts live, as `--artifacts` names it and a task message carries it (no credentials)."""

    scheme: str  # a key of STORES
    bucket: str
    prefix: str  # "" or "a/b/" (always ending with "/"); object names are prefix + "sha256:<hex>"
    endpoint: str | None = None  # http(s)://host[:port]; None: the SDK's own (AWS, or AWS_ENDPOINT_URL)
    region: str | None = None

    def url(self) -> str:
        """`s3://bucket/prefix`, for messages."""
        return f"{self.scheme}://{self.bucket}/{self.prefix}"

    def to_json(self) -> dict[str, str | None]:
        """The location as a task message carries it."""
        return {name: getattr(self, name) for name in LOCATION_FIELDS}

    @classmethod
    def from_json(cls, data: object) -> StoreLocation:
        """A message's location, checked like `--artifacts` itself; ArtifactError for anything else."""
        if not isinstance(data, dict) or set(data) != set(LOCATION_FIELDS):
            raise ArtifactError("the task's artifact store location is malformed; the message is refused")
        if not all(isinstance(data[name], str) for name in ("scheme", "bucket", "prefix")) or \
                not all(data[name] is None or isinstance(data[name], str) for name in ("endpoint", "region")):
            raise ArtifactError("the task's artifact store location is malformed; the message is refused")
        location = parse_artifacts_url(f"{data['scheme']}://{data['bucket']}/{data['prefix']}", data["endpoint"])
        return replace(location, region=checked_region(data["region"]))


def parse_artifacts_url(url: str, endpoint: str | None = None) -> StoreLocation:
    """`s3://BUCKET[/PREFIX]` (and an optional endpoint URL) as a location; ArtifactError saying what is wrong."""
    parts = urlsplit(url)
    if parts.scheme not in STORES:
        known = ", ".join(f"{scheme}://BUCKET/PREFIX" for scheme in sorted(STORES))
        raise ArtifactError(f"--artifacts {url!r} is not a store this grader knows: give {known} (without "
                            "--artifacts the broker's Redis holds the artifacts)")
    if "@" in parts.netloc or ":" in parts.netloc or parts.query or parts.fragment:
        raise ArtifactError(f"--artifacts {redacted_url(url)} must be {parts.scheme}://BUCKET/PREFIX only: "
                            "credentials go in the AWS environment variables or config, never in the URL")
    bucket = parts.netloc
    if not BUCKET_NAME.fullmatch(bucket) or ".." in bucket:
        raise ArtifactError(f"--artifacts: {bucket!r} is not a valid bucket name (3-63 lowercase letters, digits, "
                            "dots or hyphens)")
    return StoreLocation(parts.scheme, bucket, checked_prefix(parts.path), checked_endpoint(endpoint))


def checked_prefix(path: str) -> str:
    """A key prefix of plain path segments, ending with "/" (or empty); ArtifactError for anything else."""
    segments = [segment for segment in path.split("/") if segment]
    if any(segment in (".", "..") or not PREFIX_PART.fullmatch(segment) for segment in segments):
        raise ArtifactError(f"--artifacts: the prefix {path!r} may hold only letters, digits and . _ = + - "
                            "between slashes")
    return "".join(f"{segment}/" for segment in segments)


def checked_endpoint(endpoint: str | None) -> str | None:
    """An http(s) endpoint without credentials, query or fragment, normalised (no trailing slash)."""
    if endpoint is None or endpoint == "":
        return None
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ArtifactError(f"--artifacts-endpoint {redacted_url(endpoint)} is not an http(s)://HOST[:PORT] URL")
    if "@" in parts.netloc or parts.query or parts.fragment:
        raise ArtifactError(f"--artifacts-endpoint {redacted_url(endpoint)} must be http(s)://HOST[:PORT] only: "
                            "credentials go in the AWS environment variables or config, never in the URL")
    return endpoint.rstrip("/")


def checked_region(region: str | None) -> str | None:
    """A region name (it becomes part of AWS's host name); ArtifactError for anything else."""
    if region is not None and not REGION_NAME.fullmatch(region):
        raise ArtifactError("the task's artifact store region is malformed; the message is refused")
    return region


def redacted_url(url: str) -> str:
    """`url` without anything before an "@" in its host part (a password), for messages."""
    scheme, separator, rest = url.partition("://")
    host_and_path = rest.rpartition("@")[2]
    return f"{scheme}{separator}{'***@' if '@' in rest else ''}{host_and_path}"


def configured_endpoint(explicit: str | None) -> str | None:
    """The endpoint this process is configured with: `--artifacts-endpoint`, else the AWS SDKs' variables
    (`AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL`), else None (AWS itself)."""
    for candidate in (explicit, *(os.environ.get(name) for name in ENDPOINT_ENVS)):
        if candidate:
            return checked_endpoint(candidate)
    return None


def _open_s3(location: StoreLocation, max_bytes: int) -> ArtifactStore:
    from grader.distributed.s3 import S3ArtifactStore

    return S3ArtifactStore.open(location, max_bytes)


# The stores `--artifacts` can name, by URL scheme. The broker's Redis is not among them: it is the default.
STORES: dict[str, Callable[[StoreLocation, int], ArtifactStore]] = {"s3": _open_s3}


def open_store(url: str, endpoint: str | None, max_bytes: int) -> ArtifactStore:
    """The store `--artifacts URL` names (the coordinator's side), checked to be usable now."""
    location = parse_artifacts_url(url, configured_endpoint(endpoint))
    store = STORES[location.scheme](location, max_bytes)
    store.check()
    return store


def store_for_task(message_location: object, own_endpoint: str | None, max_bytes: int) -> ArtifactStore:
    """The store a task's message names (the worker's side): its bucket, prefix and region, reached at this
    worker's own endpoint with its own credentials; ArtifactError when the message names another endpoint."""
    asked = StoreLocation.from_json(message_location)
    store = STORES[asked.scheme](replace(asked, endpoint=configured_endpoint(own_endpoint)), max_bytes)
    reached = store.location()
    reached_endpoint = reached.endpoint if reached is not None else None
    if asked.endpoint is not None and reached_endpoint != asked.endpoint:
        raise ArtifactError(f"the task's artifacts are at {asked.endpoint} but this worker reaches "
                            f"{reached_endpoint or 'AWS'}: start it with --artifacts-endpoint {asked.endpoint} "
                            "(or AWS_ENDPOINT_URL) if that endpoint is yours")
    return store
