"""The digests of a stored model.tar.gz, read as a stream (``conveyor.storage.stream``): a
Lambda function's disk and memory are small."""

from __future__ import annotations

from contextlib import closing

from conveyor.model.content_digest import archive_digests
from conveyor.storage import ObjectStore
from conveyor.storage.stream import open_object
from conveyor.types import ObjectRef


def artifact_digests(store: ObjectStore, ref: ObjectRef) -> tuple[str, str | None]:
    """(sha256, content digest) of a model.tar.gz, from one read of its bytes
    (``conveyor.model.content_digest``; None when the bytes are not a gzipped tar).

    Raises:
        NotFound: no such object.
    """
    body, _ = open_object(store, ref)
    with closing(body):
        return archive_digests(body)
