"""S3 access shared by the landing zone (boto3) and the lake (delta-rs storage options)."""

from __future__ import annotations

import boto3
from botocore.config import Config

from audit_pipeline.settings import S3Access


def _config(access: S3Access) -> Config:
    """Bounded everything: connect and read timeouts, and attempts with exponential backoff
    and jitter, so a stopped or hung server fails the request instead of hanging the run."""
    return Config(retries={"total_max_attempts": access.max_attempts, "mode": "standard"},
                  connect_timeout=access.connect_timeout, read_timeout=access.read_timeout)


def split_uri(uri: str) -> tuple[str, str]:
    """`s3://bucket/some/prefix` → (`bucket`, `some/prefix`)."""
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    return bucket, prefix.strip("/")


def client(access: S3Access):
    return boto3.client(
        "s3",
        endpoint_url=access.endpoint_url,
        region_name=access.region,
        aws_access_key_id=access.access_key_id,
        aws_secret_access_key=access.secret_access_key,
        config=_config(access),
    )


def delta_storage_options(access: S3Access) -> dict[str, str]:
    """delta-rs options for an S3 lake.

    delta-rs 1.x commits to S3 with conditional writes (`If-None-Match: *` on the next
    `_delta_log` entry), so two writers can never both create version N; that is why no
    locking provider is configured and `AWS_S3_ALLOW_UNSAFE_RENAME` must stay unset.
    `AWS_ALLOW_HTTP` is only set for an http:// endpoint (a local test server).
    """
    options = {"AWS_REGION": access.region, "timeout": f"{access.read_timeout}s",
               "connect_timeout": f"{access.connect_timeout}s", "max_retries": str(access.max_attempts - 1),
               "retry_timeout": f"{access.max_attempts * (access.connect_timeout + access.read_timeout)}s"}
    if access.endpoint_url:
        options["AWS_ENDPOINT_URL"] = access.endpoint_url
    if access.access_key_id and access.secret_access_key:
        options["AWS_ACCESS_KEY_ID"] = access.access_key_id
        options["AWS_SECRET_ACCESS_KEY"] = access.secret_access_key
    if access.allow_http:
        options["AWS_ALLOW_HTTP"] = "true"
    return options
