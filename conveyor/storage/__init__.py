"""The ObjectStore port: S3's verbs on buckets and keys, over a folder or over S3."""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO, NamedTuple, Protocol, runtime_checkable

from conveyor.errors import InvalidInput
from conveyor.types import ObjectInfo

# The logical buckets. On a folder they are sub-folders; on AWS each maps to a real bucket name.
RAW = "raw"
PROCESSED = "processed"
MODELS = "models"
REPORTS = "reports"
CAPTURE = "capture"  # the rows of served requests (conveyor/serving/capture.py)
BUCKETS = (RAW, PROCESSED, MODELS, REPORTS, CAPTURE)


@runtime_checkable
class ObjectStore(Protocol):
    scheme: str

    def put(self, bucket: str, key: str, body: bytes | BinaryIO) -> ObjectInfo:
        """Store an object atomically: readers see the old object or the whole new one.

        Args:
            bucket: logical bucket name (one of ``BUCKETS``).
            key: object key, ``/``-separated, no leading slash and no ``..`` parts.
            body: the bytes, or a binary file object read to its end.
        Returns:
            The stored object's ``ObjectInfo`` (size, etag, last_modified).
        Raises:
            InvalidInput: the key is not a valid object key.
            BackendUnavailable: the store could not be written.
        """
        ...

    def put_file(self, bucket: str, key: str, path: Path) -> ObjectInfo:
        """Upload a local file atomically (streamed, never read whole into memory).

        Returns/Raises: as ``put``; ``NotFound`` if ``path`` does not exist.
        """
        ...

    def get(self, bucket: str, key: str) -> bytes:
        """Read a whole object.

        Raises:
            NotFound: no such object.
        """
        ...

    def download(self, bucket: str, key: str, path: Path) -> ObjectInfo:
        """Write an object to a local file (parent folders are created), streamed.

        Raises:
            NotFound: no such object.
        """
        ...

    def head(self, bucket: str, key: str) -> ObjectInfo:
        """Describe an object without reading it.

        Raises:
            NotFound: no such object.
        """
        ...

    def list(self, bucket: str, prefix: str = "") -> list[ObjectInfo]:
        """List the objects whose key starts with ``prefix``, sorted by key.

        In-flight temporary files of an atomic put are never listed.
        """
        ...

    def delete(self, bucket: str, key: str) -> None:
        """Delete an object; deleting a missing object is not an error (as on S3)."""
        ...

    def delete_prefix(self, bucket: str, prefix: str) -> int:
        """Delete every object whose key starts with ``prefix`` (a folder's worth: a deleted
        project's files).

        Args:
            prefix: ends with ``/`` (``churn/``), so that it never reaches into a sibling
                (``churn-2/``).
        Returns:
            How many objects were deleted.
        Raises:
            InvalidInput: the prefix is empty or does not end with ``/``.
            BackendUnavailable: the store could not be written.
        """
        ...


class LocalFile(NamedTuple):
    """An object's file as seen on disk, without its etag (which costs a read)."""

    key: str
    path: Path
    size: int
    mtime_ns: int


@runtime_checkable
class FolderBacked(ObjectStore, Protocol):
    """A store whose objects are files on this machine (the folder store): an optional
    capability, as ``jobs.Warmable`` is. Callers that have one walk a bucket without the
    etags ``list`` computes, watch its files appear, and read them in place."""

    root: Path

    def path_of(self, bucket: str, key: str) -> Path:
        """The file that holds (or would hold) ``bucket``/``key``.

        Raises:
            InvalidInput: the key is not a valid object key.
        """
        ...

    def files(self, bucket: str, prefix: str = "") -> list[LocalFile]:
        """The files ``list`` would describe, sorted by key, without reading them."""
        ...


def check_folder_prefix(prefix: str) -> str:
    """``prefix`` if it names a folder (``churn/``), for ``ObjectStore.delete_prefix``.

    Raises:
        InvalidInput: empty, or not ending with ``/``.
    """
    if not isinstance(prefix, str) or not prefix.strip("/") or not prefix.endswith("/"):
        raise InvalidInput(
            f"prefix {prefix!r} must name a folder, such as 'churn/' (non-empty, ending with "
            "'/'), so that a delete never reaches another folder's objects",
            field="prefix",
        )
    return prefix
