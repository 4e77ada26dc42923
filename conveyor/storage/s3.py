"""The ObjectStore port on S3: one real bucket per logical bucket, md5 etags.

``s3://<prefix>`` maps each logical bucket (``raw``, ``processed``, …) to the real bucket
``<prefix>-<bucket>``; a query string overrides single names
(``s3://conveyor-prod?models=shared-models``). The real buckets must exist (the SAM
template makes them); this adapter never creates one.

Etags are the md5 hex of the bytes, as on the folder store. S3's own ETag is that md5 only
for a single-part upload to a bucket with SSE-S3 (or no) encryption; a multipart upload's
ETag is ``<md5 of the part md5s>-<parts>``. So uploads stay single part up to
``multipart_threshold`` and every upload conveyor makes also carries its md5 as the
metadata ``x-amz-meta-md5``: the etag is S3's ETag when it is a plain md5, else that
metadata, else (a multipart object uploaded by another tool) S3's ETag as it is.
Buckets encrypted with SSE-KMS give ETags that are not md5s: use SSE-S3.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import tempfile
from collections.abc import Mapping
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, BinaryIO, NoReturn
from urllib.parse import parse_qsl, urlsplit

from conveyor.aws.clients import client
from conveyor.aws.errors import raise_translated, rule
from conveyor.errors import BackendUnavailable, ConfigError, InvalidInput, NotFound
from conveyor.storage import BUCKETS, check_folder_prefix
from conveyor.storage.local import validate_key
from conveyor.types import ObjectInfo

if TYPE_CHECKING:
    from conveyor.config import Settings
    from conveyor.ports import PortsSoFar

_CHUNK = 1 << 20
_SPOOL_IN_MEMORY = 8 << 20  # a streamed body larger than this is spooled to a temp file
DEFAULT_MULTIPART_THRESHOLD = 64 << 20
_MD5_METADATA = "md5"
_PLAIN_MD5 = re.compile(r"[0-9a-f]{32}")
_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_NOT_FOUND_CODES = {"NoSuchKey", "404", "NotFound"}


class S3ObjectStore:
    """Logical buckets mapped to real S3 buckets; clients come from ``conveyor.aws.clients``
    on every call, so an instance pickles and survives ``clear_clients()``."""

    scheme = "s3"

    def __init__(
        self,
        buckets: Mapping[str, str],
        *,
        region: str | None = None,
        endpoint_url: str | None = None,
        multipart_threshold: int = DEFAULT_MULTIPART_THRESHOLD,
    ) -> None:
        for logical, real in buckets.items():
            if not _BUCKET_NAME.fullmatch(real) or ".." in real:
                raise ConfigError(
                    f"bucket {logical!r} maps to {real!r}, which is not a valid S3 bucket "
                    "name (3-63 characters: lower-case letters, digits, '-' and '.')"
                )
        self.buckets = dict(buckets)
        self.region = region
        self.endpoint_url = endpoint_url
        self.multipart_threshold = multipart_threshold

    @classmethod
    def from_settings(cls, uri: str, settings: Settings, ports_so_far: PortsSoFar) -> S3ObjectStore:
        """``s3://<prefix>[?<bucket>=<real name>&…]`` → ``<prefix>-<bucket>`` per bucket, in
        the settings' AWS region and endpoint."""
        return cls(
            _buckets_of(uri), region=settings.aws.region, endpoint_url=settings.aws.endpoint_url
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            _rebuild,
            (self.buckets, self.region, self.endpoint_url, self.multipart_threshold),
        )

    def put(self, bucket: str, key: str, body: bytes | BinaryIO) -> ObjectInfo:
        real = self._real(bucket)
        validate_key(key)
        if isinstance(body, bytes | bytearray | memoryview):
            data = bytes(body)
            digest = hashlib.md5(data, usedforsecurity=False)
            self._call(
                bucket,
                key,
                "put_object",
                Bucket=real,
                Key=key,
                Body=data,
                ContentMD5=base64.b64encode(digest.digest()).decode(),
                Metadata={_MD5_METADATA: digest.hexdigest()},
            )
            return self.head(bucket, key)
        if not hasattr(body, "read"):
            raise InvalidInput(
                f"cannot store a {type(body).__name__}: pass bytes or a binary file object "
                "(encode text first)",
                field="body",
            )
        # Spooled and hashed first: the md5 must be known when the upload starts (it is
        # metadata), and a source that fails half-way then leaves S3 untouched.
        with tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY) as spool:
            digest = hashlib.md5(usedforsecurity=False)
            for chunk in iter(lambda: body.read(_CHUNK), b""):
                digest.update(chunk)
                spool.write(chunk)
            spool.seek(0)
            self._upload(bucket, key, spool, digest.hexdigest())
        return self.head(bucket, key)

    def put_file(self, bucket: str, key: str, path: Path) -> ObjectInfo:
        self._real(bucket)
        validate_key(key)
        try:
            handle = path.open("rb")
        except (FileNotFoundError, IsADirectoryError) as exc:
            raise NotFound(f"cannot upload {path}: no such file") from exc
        with handle:
            etag = _md5_of(handle)
            handle.seek(0)
            self._upload(bucket, key, handle, etag)
        return self.head(bucket, key)

    def get(self, bucket: str, key: str) -> bytes:
        real = self._real(bucket)
        validate_key(key)
        response = self._call(bucket, key, "get_object", Bucket=real, Key=key)
        try:
            data: bytes = response["Body"].read()
        except Exception as exc:  # the connection broke mid-body
            raise BackendUnavailable(f"could not read {bucket}/{key} from S3: {exc}") from exc
        return data

    def download(self, bucket: str, key: str, path: Path) -> ObjectInfo:
        real = self._real(bucket)
        validate_key(key)
        info, version = self._head(bucket, key)
        # The version pins the bytes to the ones just described (versioned buckets).
        extra = {"VersionId": version} if version else None
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "wb") as out:
                self._call(
                    bucket,
                    key,
                    "download_fileobj",
                    Bucket=real,
                    Key=key,
                    Fileobj=out,
                    ExtraArgs=extra,
                    Config=self._transfer_config(),
                )
            os.chmod(partial, 0o644)
            os.replace(partial, path)
        except BaseException as exc:
            with suppress(FileNotFoundError):
                os.unlink(partial)
            if isinstance(exc, OSError):  # the local side: disk full, not writable
                raise BackendUnavailable(
                    f"could not download {bucket}/{key} to {path}: {exc.strerror or exc}"
                ) from exc
            raise
        return info

    def head(self, bucket: str, key: str) -> ObjectInfo:
        self._real(bucket)
        validate_key(key)
        return self._head(bucket, key)[0]

    def list(self, bucket: str, prefix: str = "") -> list[ObjectInfo]:
        real = self._real(bucket)
        objects: list[ObjectInfo] = []
        try:
            pages = client("s3", region=self.region, endpoint_url=self.endpoint_url)
            for page in pages.get_paginator("list_objects_v2").paginate(Bucket=real, Prefix=prefix):
                for item in page.get("Contents", []):
                    key = item["Key"]
                    # Keys the folder store could not hold (folder markers 'p/', '.hidden')
                    # are not objects here either.
                    with suppress(InvalidInput):
                        validate_key(key)
                        etag = _unquoted(item["ETag"])
                        if _PLAIN_MD5.fullmatch(etag):
                            objects.append(
                                ObjectInfo(
                                    bucket, key, item["Size"], etag, _utc(item["LastModified"])
                                )
                            )
                            continue
                        with suppress(NotFound):  # multipart: its md5 is in its metadata
                            objects.append(self._head(bucket, key)[0])
        except Exception as exc:
            _raise_mapped(exc, bucket, prefix or "", real)
        return sorted(objects, key=lambda info: info.key)

    def delete(self, bucket: str, key: str) -> None:
        real = self._real(bucket)
        validate_key(key)
        self._call(bucket, key, "delete_object", Bucket=real, Key=key)

    def delete_prefix(self, bucket: str, prefix: str) -> int:
        real = self._real(bucket)
        check_folder_prefix(prefix)
        s3 = client("s3", region=self.region, endpoint_url=self.endpoint_url)
        deleted = 0
        try:
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=real, Prefix=prefix):
                keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
                if not keys:  # a page lists at most 1000 keys, DeleteObjects' own limit
                    continue
                answer = s3.delete_objects(Bucket=real, Delete={"Objects": keys, "Quiet": True})
                if answer.get("Errors"):
                    first = answer["Errors"][0]
                    raise BackendUnavailable(
                        f"S3 did not delete {len(answer['Errors'])} object(s) under "
                        f"{bucket}/{prefix} (first: {first.get('Key')}: {first.get('Message')}); "
                        "delete again to retry"
                    )
                deleted += len(keys)
        except BackendUnavailable:
            raise
        except Exception as exc:
            _raise_mapped(exc, bucket, prefix, real)
        return deleted

    def _real(self, bucket: str) -> str:
        try:
            return self.buckets[bucket]
        except (KeyError, TypeError):
            raise InvalidInput(
                f"invalid bucket name {bucket!r}: use one of {', '.join(sorted(self.buckets))}",
                field="bucket",
            ) from None

    def _head(self, bucket: str, key: str) -> tuple[ObjectInfo, str | None]:
        response = self._call(bucket, key, "head_object", Bucket=self._real(bucket), Key=key)
        etag = _unquoted(response["ETag"])
        if not _PLAIN_MD5.fullmatch(etag):
            etag = response.get("Metadata", {}).get(_MD5_METADATA) or etag
        modified = _utc(response["LastModified"])
        info = ObjectInfo(bucket, key, response["ContentLength"], etag, modified)
        return info, response.get("VersionId")

    def _upload(self, bucket: str, key: str, body: IO[bytes], etag: str) -> None:
        self._call(
            bucket,
            key,
            "upload_fileobj",
            Fileobj=body,
            Bucket=self._real(bucket),
            Key=key,
            ExtraArgs={"Metadata": {_MD5_METADATA: etag}},
            Config=self._transfer_config(),
        )

    def _transfer_config(self) -> Any:
        from boto3.s3.transfer import TransferConfig

        return TransferConfig(
            multipart_threshold=self.multipart_threshold, multipart_chunksize=64 << 20
        )

    def _call(self, bucket: str, key: str, method: str, **kwargs: Any) -> Any:
        s3 = client("s3", region=self.region, endpoint_url=self.endpoint_url)
        try:
            return getattr(s3, method)(**kwargs)
        except Exception as exc:
            _raise_mapped(exc, bucket, key, kwargs.get("Bucket", ""))


def _raise_mapped(exc: Exception, bucket: str, key: str, real: str) -> NoReturn:
    """botocore's errors as conveyor's; anything else (a failing source stream) as it is."""
    rules = (
        rule(
            NotFound,
            *_NOT_FOUND_CODES,
            message=f"no object {bucket}/{key}; list the bucket to see which keys exist",
        ),
        rule(
            BackendUnavailable,
            "NoSuchBucket",
            message=f"the S3 bucket {real!r} (conveyor's {bucket!r}) does not exist; deploy "
            "the stack or fix CONVEYOR_OBJECT_STORE_URI",
        ),
    )
    raise_translated(
        exc,
        rules,
        refused=f"S3 refused {bucket}/{key} ({real})",
        unreachable=f"could not reach S3 for {bucket}/{key}",
    )


def _rebuild(
    buckets: Mapping[str, str], region: str | None, endpoint_url: str | None, threshold: int
) -> S3ObjectStore:
    return S3ObjectStore(
        buckets, region=region, endpoint_url=endpoint_url, multipart_threshold=threshold
    )


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def _unquoted(etag: str) -> str:
    return etag.strip('"')


def _md5_of(handle: IO[bytes]) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    for chunk in iter(lambda: handle.read(_CHUNK), b""):
        digest.update(chunk)
    return digest.hexdigest()


def _buckets_of(uri: str) -> dict[str, str]:
    """The real bucket of each logical one that ``uri`` names."""
    parts = urlsplit(uri)
    prefix = parts.netloc + parts.path.rstrip("/")
    if parts.scheme != "s3" or not prefix or "/" in prefix:
        raise ConfigError(
            f"CONVEYOR_OBJECT_STORE_URI={uri!r}: expected s3://<bucket-prefix>, "
            "such as s3://conveyor-prod (buckets conveyor-prod-raw, …)"
        )
    buckets = {bucket: f"{prefix}-{bucket}" for bucket in BUCKETS}
    for logical, real in parse_qsl(parts.query, strict_parsing=bool(parts.query)):
        if logical not in buckets:
            raise ConfigError(
                f"CONVEYOR_OBJECT_STORE_URI={uri!r}: unknown bucket {logical!r}; "
                f"valid buckets: {', '.join(BUCKETS)}"
            )
        buckets[logical] = real
    return buckets
