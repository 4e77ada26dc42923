"""The sha256 of a stored object, read as a stream: a Lambda function's disk and memory are
small, an upload may be large."""

from __future__ import annotations

import hashlib

from conveyor.aws.clients import client
from conveyor.errors import NotFound
from conveyor.storage import ObjectStore
from conveyor.types import ObjectRef

CHUNK_BYTES = 1 << 20


def object_sha256(store: ObjectStore, ref: ObjectRef) -> tuple[str, str]:
    """(sha256 hex digest, etag) of the object's bytes.

    Raises:
        NotFound: no such object.
    """
    buckets = getattr(store, "buckets", None)
    if buckets is None:  # not S3: the store's own read (a local folder in tests and demos)
        info = store.head(ref.bucket, ref.key)
        return hashlib.sha256(store.get(ref.bucket, ref.key)).hexdigest(), info.etag
    s3 = client(
        "s3",
        region=getattr(store, "region", None),
        endpoint_url=getattr(store, "endpoint_url", None),
    )
    try:
        response = s3.get_object(Bucket=buckets[ref.bucket], Key=ref.key)
    except Exception as exc:
        code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
        if code in {"NoSuchKey", "404", "NotFound"}:
            raise NotFound(f"no object {ref.uri}") from exc
        raise
    digest = hashlib.sha256()
    for chunk in response["Body"].iter_chunks(CHUNK_BYTES):
        digest.update(chunk)
    return digest.hexdigest(), str(response.get("ETag", "")).strip('"')
