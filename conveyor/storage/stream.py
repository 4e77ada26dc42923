"""A stored object read as a stream: a Lambda function's disk and memory are small, an upload
or a model may be large."""

from __future__ import annotations

from contextlib import closing
from typing import IO, Any

from conveyor.errors import NotFound
from conveyor.hashing import sha256_stream
from conveyor.storage import FolderBacked, ObjectStore
from conveyor.types import ObjectRef


def open_object(store: ObjectStore, ref: ObjectRef) -> tuple[IO[bytes], str]:
    """The object's bytes as a stream (the caller closes it), and its etag.

    Raises:
        NotFound: no such object.
    """
    buckets = getattr(store, "buckets", None)
    if buckets is None:  # not S3: a local folder (its file itself), else the store's own read
        info = store.head(ref.bucket, ref.key)
        if isinstance(store, FolderBacked):
            return open(store.path_of(ref.bucket, ref.key), "rb"), info.etag
        import io

        return io.BytesIO(store.get(ref.bucket, ref.key)), info.etag
    from conveyor.aws.clients import client  # boto3: only for an S3 store
    from conveyor.aws.errors import aws_error

    s3 = client(
        "s3",
        region=getattr(store, "region", None),
        endpoint_url=getattr(store, "endpoint_url", None),
    )
    try:
        response: dict[str, Any] = s3.get_object(Bucket=buckets[ref.bucket], Key=ref.key)
    except Exception as exc:
        code, _ = aws_error(exc)
        if code in {"NoSuchKey", "404", "NotFound"}:
            raise NotFound(f"no object {ref.uri}") from exc
        raise
    return response["Body"], str(response.get("ETag", "")).strip('"')


def object_sha256(store: ObjectStore, ref: ObjectRef) -> tuple[str, str]:
    """(sha256 hex digest, etag) of the object's bytes, read as a stream.

    Raises:
        NotFound: no such object.
    """
    body, etag = open_object(store, ref)
    with closing(body):
        return sha256_stream(body), etag
