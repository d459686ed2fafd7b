"""An S3-compatible server on loopback: moto's real HTTP server (`ThreadedMotoServer`) on a free port.

The grader's S3 artifact store talks to it over HTTP exactly as it would to MinIO or AWS (signed requests,
real status codes and error bodies); the test process and any `grader worker` it starts reach the same
buckets. Credentials are fixed test values in the AWS SDK's own environment variables, with the user's AWS
config files hidden, so nothing from the machine running the tests is used.
"""

from __future__ import annotations

import os
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from tests.conftest import free_port

TEST_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "grader-test-key",
    "AWS_SECRET_ACCESS_KEY": "grader-test-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}
HIDDEN = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3")


@dataclass(frozen=True)
class S3Server:
    endpoint: str  # http://127.0.0.1:PORT

    def client(self, **credentials: str) -> Any:
        """A plain boto3 client of the server (the test's own hands, beside the grader's store)."""
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1", **credentials)

    def keys(self, bucket: str) -> list[str]:
        response = self.client().list_objects_v2(Bucket=bucket)
        return sorted(str(item["Key"]) for item in response.get("Contents", []))

    def require_signatures(self, on: bool) -> None:
        """Make the server check every request's credentials (IAM) from now on, or stop checking."""
        request = urllib.request.Request(f"{self.endpoint}/moto-api/reset-auth", data=b"0" if on else b"inf",
                                         method="POST", headers={"Content-Type": "text/plain"})
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 200


@contextmanager
def s3_server() -> Iterator[S3Server]:
    """Start the server with the test credentials in the environment; stop it and restore the environment."""
    from moto.server import ThreadedMotoServer

    saved = {name: os.environ.get(name) for name in (*TEST_CREDENTIALS, *HIDDEN)}
    for name in HIDDEN:
        os.environ.pop(name, None)
    os.environ.update(TEST_CREDENTIALS)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield S3Server(f"http://127.0.0.1:{port}")
    finally:
        server.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
