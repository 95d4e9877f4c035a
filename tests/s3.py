"""An S3-compatible server for tests: moto's server mode, a real HTTP S3 API, on 127.0.0.1.

The only S3 the tests reach. `moto_server` runs as its own process on a free port; it issues
one key pair (an IAM user allowed s3:*), then turns authentication on, so that a wrong key
or secret is refused as by AWS. `S3Server.env()` is the environment evmon reads it with.
"""

from __future__ import annotations

import json
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evmon.processes import free_port, start_service, stop, wait_ready

REGION = "us-east-1"
MOTO_SERVER = Path(sys.executable).with_name("moto_server")


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    key_id: str
    secret: str

    def env(self) -> dict[str, str]:
        """The variables s3fs (through botocore) reads: credentials, region and this endpoint."""
        return {
            "AWS_ENDPOINT_URL_S3": self.endpoint,
            "AWS_ACCESS_KEY_ID": self.key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret,
            "AWS_DEFAULT_REGION": REGION,
        }

    def client(self) -> Any:
        """A boto3 S3 client with the issued key, to arrange a test's bucket."""
        return _client("s3", self.endpoint, self.key_id, self.secret)

    def upload(self, bucket: str, files: dict[str, Path | bytes]) -> None:
        """Put each key's file (or bytes) into `bucket`."""
        client = self.client()
        for key, content in files.items():
            body = content.read_bytes() if isinstance(content, Path) else content
            client.put_object(Bucket=bucket, Key=key, Body=body)


@contextmanager
def s3_server(log_path: Path, buckets: list[str]) -> Iterator[S3Server]:
    """A running moto S3 server holding empty `buckets`; stopped (its whole session) on exit."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    process = start_service([str(MOTO_SERVER), "-H", "127.0.0.1", "-p", str(port)], env={}, log_path=log_path)
    try:
        wait_ready(f"{endpoint}/moto-api/", process, timeout=60)
        setup = ("setup-key", "setup-secret")  # accepted only until authentication is on
        iam = _client("iam", endpoint, *setup)
        iam.create_user(UserName="evmon")
        policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
        iam.put_user_policy(UserName="evmon", PolicyName="s3", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName="evmon")["AccessKey"]
        s3 = _client("s3", endpoint, *setup)
        for bucket in buckets:
            s3.create_bucket(Bucket=bucket)
        request = urllib.request.Request(
            f"{endpoint}/moto-api/reset-auth", data=b"0", method="POST", headers={"Content-Type": "text/plain"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200
        yield S3Server(endpoint, key["AccessKeyId"], key["SecretAccessKey"])
    finally:
        stop(process)


def _client(service: str, endpoint: str, key_id: str, secret: str) -> Any:
    import boto3

    return boto3.client(
        service, endpoint_url=endpoint, aws_access_key_id=key_id, aws_secret_access_key=secret, region_name=REGION
    )
