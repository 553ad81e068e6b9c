"""Models in S3 (or any S3-compatible store): `s3://bucket/prefix` is every object under the prefix, named by the
rest of its key; `s3://bucket/key` of one object is a single-file model. boto3 reads the usual AWS settings
(credentials, region, `AWS_ENDPOINT_URL`). Every ranged read is pinned to the ETag seen in the listing
(`If-Match`), so an object replaced while it is scanned or hashed is an error, never a mix of two versions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from modelseal.errors import InputError, ServiceError
from modelseal.remote.objects import Meter, RemoteFile, RemoteModel


def _client() -> Any:
    try:
        import boto3
    except ImportError as exc:
        raise InputError("s3:// models need the s3 extra", details=("pip install 'modelseal[s3]'",)) from exc
    return boto3.client("s3")


def _service_error(exc: Exception, what: str) -> ServiceError | InputError:
    response = getattr(exc, "response", None) or {}
    code = response.get("Error", {}).get("Code", type(exc).__name__)
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    hints = {
        "403": "check the credentials and that they may read the bucket (s3:GetObject, s3:ListBucket)",
        "AccessDenied": "check the credentials and that they may read the bucket (s3:GetObject, s3:ListBucket)",
        "NoCredentialsError": "set AWS credentials (AWS_ACCESS_KEY_ID / AWS_PROFILE / an instance role)",
        "PreconditionFailed": "the object was replaced while it was read: run again",
    }
    hint = hints.get(str(status)) or hints.get(code)
    if status == 404:
        return InputError(f"S3 {what}: {code} (404)")
    return ServiceError(f"S3 {what}: {code}" + (f" ({status})" if status else ""), details=(hint,) if hint else ())


def open_s3(url: str) -> RemoteModel:
    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    if not bucket:
        raise InputError(f"not an S3 location: {url!r}", details=("write s3://BUCKET/PREFIX",))
    client = _client()
    meter = Meter()
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        listed = _list(client, bucket, prefix.rstrip("/") + "/" if prefix else "")
        single = not listed and prefix and not prefix.endswith("/")
        if single:
            head = client.head_object(Bucket=bucket, Key=prefix)
            listed = [(prefix.rsplit("/", 1)[-1], prefix, head["ContentLength"], head["ETag"])]
    except (BotoCoreError, ClientError) as exc:
        raise _service_error(exc, f"cannot list {url}") from exc
    if not listed:
        raise InputError(f"{url}: no objects under this prefix")
    files = tuple(
        RemoteFile(name, size, _fetch(client, bucket, key, etag, meter)) for name, key, size, etag in sorted(listed)
    )
    name = (prefix.rstrip("/").rsplit("/", 1)[-1] if prefix else bucket) or bucket
    return RemoteModel(url, name, files, meter, single_file=bool(single))


def _list(client: Any, bucket: str, prefix: str) -> list[tuple[str, str, int, str]]:
    found = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            key = item["Key"]
            if not key.endswith("/"):  # "directory" placeholder objects hold nothing
                found.append((key[len(prefix) :], key, int(item["Size"]), item["ETag"]))
    return found


def _fetch(client: Any, bucket: str, key: str, etag: str, meter: Meter) -> Callable[[int, int], bytes]:
    from botocore.exceptions import BotoCoreError, ClientError

    def fetch(start: int, end: int) -> bytes:
        try:
            response = client.get_object(Bucket=bucket, Key=key, Range=f"bytes={start}-{end - 1}", IfMatch=etag)
            return meter.count(response["Body"].read())
        except (BotoCoreError, ClientError) as exc:
            raise _service_error(exc, f"cannot read s3://{bucket}/{key}") from exc

    return fetch
