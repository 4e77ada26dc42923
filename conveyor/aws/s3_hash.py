"""The sha256 of a stored object, read as a stream: a Lambda function's disk and memory are
small, an upload may be large."""

from __future__ import annotations

import hashlib
import io
from typing import IO, Any

from conveyor.aws.clients import client
from conveyor.errors import NotFound
from conveyor.model.content_digest import archive_digests
from conveyor.storage import ObjectStore
from conveyor.types import ObjectRef

CHUNK_BYTES = 1 << 20


def object_sha256(store: ObjectStore, ref: ObjectRef) -> tuple[str, str]:
    """(sha256 hex digest, etag) of the object's bytes.

    Raises:
        NotFound: no such object.
    """
    body, etag = _open(store, ref)
    digest = hashlib.sha256()
    while chunk := body.read(CHUNK_BYTES):
        digest.update(chunk)
    return digest.hexdigest(), etag


def artifact_digests(store: ObjectStore, ref: ObjectRef) -> tuple[str, str | None]:
    """(sha256, content digest) of a model.tar.gz, from one read of its bytes
    (``conveyor.model.content_digest``; None when the bytes are not a gzipped tar).

    Raises:
        NotFound: no such object.
    """
    body, _ = _open(store, ref)
    return archive_digests(body)


def _open(store: ObjectStore, ref: ObjectRef) -> tuple[IO[bytes], str]:
    """The object's bytes as a stream, and its etag."""
    buckets = getattr(store, "buckets", None)
    if buckets is None:  # not S3: the store's own read (a local folder in tests and demos)
        info = store.head(ref.bucket, ref.key)
        return io.BytesIO(store.get(ref.bucket, ref.key)), info.etag
    s3 = client(
        "s3",
        region=getattr(store, "region", None),
        endpoint_url=getattr(store, "endpoint_url", None),
    )
    try:
        response: dict[str, Any] = s3.get_object(Bucket=buckets[ref.bucket], Key=ref.key)
    except Exception as exc:
        code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
        if code in {"NoSuchKey", "404", "NotFound"}:
            raise NotFound(f"no object {ref.uri}") from exc
        raise
    return response["Body"], str(response.get("ETag", "")).strip('"')
