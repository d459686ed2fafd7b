"""Artifacts in an S3-compatible bucket (AWS S3, MinIO, Ceph, ...): `--artifacts s3://BUCKET/PREFIX`.

Objects are named PREFIX + `sha256:<hex>` and checked against that hash on every read, exactly like the Redis
store's keys; an object the store says is larger than the cap is refused before it is downloaded. Credentials
come from the AWS SDK's usual places (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, AWS_PROFILE, an instance role)
and never appear in a message or a log. The bucket is not emptied by the grader: give it a lifecycle rule
(docs/distributed.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from grader.distributed.artifacts import (
    DEFAULT_MAX_BYTES,
    ArtifactError,
    check_address,
    check_size,
    missing,
    sha256_of,
    verified,
)
from grader.distributed.stores import StoreLocation

DEFAULT_REGION = "us-east-1"  # what S3-compatible servers expect when none is configured
CONNECT_TIMEOUT_S = 10
READ_TIMEOUT_S = 120
ATTEMPTS = 3  # the SDK's own retries of a dropped connection or a throttled request
DENIED_CODES = {"403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "AllAccessDisabled",
                "InvalidToken", "ExpiredToken", "AccountProblem"}
NO_BUCKET_CODES = {"NoSuchBucket"}
NO_KEY_CODES = {"404", "NoSuchKey", "NotFound"}
MISSING_BOTO3 = ("the S3 artifact store needs boto3, which is not installed: "
                 "pip install 'takehome-grader[s3]' on this machine")


@dataclass(frozen=True)
class S3ArtifactStore:
    """Archives by hash in a bucket, under a prefix, refused beyond `max_bytes`."""

    client: Any  # a boto3 S3 client
    bucket: str
    prefix: str
    max_bytes: int = DEFAULT_MAX_BYTES
    scheme: str = "s3"

    @classmethod
    def open(cls, location: StoreLocation, max_bytes: int) -> S3ArtifactStore:
        """A client for `location` with this machine's AWS credentials (nothing is contacted yet)."""
        try:
            import boto3
            from botocore.config import Config
        except ImportError:
            raise ArtifactError(MISSING_BOTO3) from None
        session = boto3.session.Session()
        config = Config(connect_timeout=CONNECT_TIMEOUT_S, read_timeout=READ_TIMEOUT_S,
                        retries={"max_attempts": ATTEMPTS, "mode": "standard"},
                        # a custom endpoint (MinIO, a test server) seldom has a host name per bucket
                        s3={"addressing_style": "path" if location.endpoint else "auto"})
        client = session.client("s3", region_name=location.region or session.region_name or DEFAULT_REGION,
                                endpoint_url=location.endpoint, config=config)
        return cls(client, location.bucket, location.prefix, max_bytes, location.scheme)

    def location(self) -> StoreLocation:
        """Where this store is, as the coordinator tells the workers: the endpoint and region it reaches."""
        endpoint = str(self.client.meta.endpoint_url).rstrip("/")
        return StoreLocation(self.scheme, self.bucket, self.prefix, endpoint, str(self.client.meta.region_name))

    def check(self) -> None:
        """ArtifactError, in one sentence, unless the bucket exists and these credentials may use it."""
        self._call(lambda: self.client.head_bucket(Bucket=self.bucket), "the artifact store")

    def put(self, data: bytes, what: str) -> str:
        """Store `data` (described as `what` in errors) and return its hash; storing it twice is harmless."""
        check_size(len(data), self.max_bytes, what)
        digest = sha256_of(data)
        # Always written, as in Redis: this replaces a copy that was changed in the bucket.
        self._call(lambda: self.client.put_object(Bucket=self.bucket, Key=self._key(digest), Body=data,
                                                  ContentType="application/gzip"), what)
        return digest

    def get(self, digest: str, what: str) -> bytes:
        """The bytes stored under `digest`, verified against it; ArtifactError when missing or not matching."""
        check_address(digest, what)
        response = self._call(lambda: self.client.get_object(Bucket=self.bucket, Key=self._key(digest)), what,
                              digest)
        body = response["Body"]
        try:
            check_size(int(response.get("ContentLength") or 0), self.max_bytes, what)  # before downloading it
            data = body.read(self.max_bytes + 1)  # the length said may be wrong: never read past the cap
        finally:
            body.close()
        return verified(data, digest, self.max_bytes, what)

    def contains(self, digest: str) -> bool:
        """Whether an object is stored under `digest`."""
        check_address(digest, "artifact")
        try:
            self._call(lambda: self.client.head_object(Bucket=self.bucket, Key=self._key(digest)), "artifact",
                       digest)
        except _Missing:
            return False
        return True

    def _key(self, digest: str) -> str:
        return self.prefix + digest

    def _call(self, request: Callable[[], Any], what: str, digest: str | None = None) -> Any:
        """Run one request; any failure becomes one sentence saying what to do (never the credentials)."""
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, PartialCredentialsError

        try:
            return request()
        except ClientError as exc:
            raise self._client_error(exc, what, digest) from None
        except (NoCredentialsError, PartialCredentialsError):
            raise ArtifactError("no AWS credentials were found for the artifact store; set AWS_ACCESS_KEY_ID and "
                                "AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) for the grader") from None
        except BotoCoreError as exc:  # connection refused, DNS, timeouts (after the SDK's retries)
            reason = str(exc).rstrip(".")
            raise ArtifactError(f"the artifact store at {self.location().endpoint} cannot be reached ({reason}); "
                                "check --artifacts-endpoint (or AWS_ENDPOINT_URL) and that it is running") from None

    def _client_error(self, exc: Any, what: str, digest: str | None) -> ArtifactError:
        error = exc.response.get("Error", {})
        code = str(error.get("Code") or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "?"))
        where = f"{self.location().url()} at {self.location().endpoint}"
        if code in NO_BUCKET_CODES or (code == "404" and digest is None):
            return ArtifactError(f"the bucket {self.bucket!r} does not exist at {self.location().endpoint}; "
                                 "create it or fix --artifacts")
        if code in NO_KEY_CODES and digest is not None:
            return _Missing(str(missing(digest, what)))
        if code in DENIED_CODES:
            return ArtifactError(f"access to {where} is denied ({code}); check the AWS credentials the grader runs "
                                 "with (AWS_ACCESS_KEY_ID, AWS_PROFILE) and the bucket's policy")
        if code in ("EntityTooLarge", "413"):
            return ArtifactError(f"{what} is too large for the artifact store {where}; shrink it")
        message = str(error.get("Message") or "").rstrip(".")
        return ArtifactError(f"the artifact store {where} refused {what} ({code}{': ' + message if message else ''})")


class _Missing(ArtifactError):
    """Nothing is stored under the address."""

