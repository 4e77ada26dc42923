"""The ObjectStore port on a folder tree: ``<root>/<bucket>/<key>``, atomic puts, md5 etags."""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from conveyor._schemes import path_of
from conveyor.errors import BackendUnavailable, InvalidInput, NotFound
from conveyor.storage import LocalFile, check_folder_prefix
from conveyor.types import ObjectInfo

if TYPE_CHECKING:
    from conveyor.config import Settings
    from conveyor.ports import PortsSoFar

_CHUNK = 1 << 20
_HASH_CHUNK = 8 << 20
# In-flight puts live here, inside the bucket so that the final rename never crosses a
# file system; the leading dot keeps it (and any hidden file) out of listings.
_TMP = ".tmp"
_MAX_KEY_BYTES = 1024  # S3's limit, so that a key valid here is valid there
_MAX_PART_BYTES = 255  # the file-name limit of common file systems
_MAX_CACHED_ETAGS = 100_000
_ETAG_ATTRIBUTE = "user.conveyor.etag"


# ``list`` is also a method name below, so class-scope annotations use this alias.
_Files = list[LocalFile]


def validate_key(key: object) -> str:
    """Return ``key`` if it is a valid object key, else raise ``InvalidInput(field="key")``.

    Valid keys are ``/``-separated non-empty parts, no leading slash, no ``.``/``..``
    parts, no part starting with ``.`` (the folder store's temp files and OS litter such
    as ``.DS_Store``), no backslash or NUL, at most 1024 UTF-8 bytes.
    """
    if not isinstance(key, str) or not key:
        raise InvalidInput(
            "the object key is empty; use a key like 'project/file.csv'", field="key"
        )
    problem = _key_problem(key)
    if problem:
        raise InvalidInput(f"invalid object key {key!r}: {problem}", field="key")
    return key


class LocalObjectStore:
    """Buckets as sub-folders of ``root``; objects as files. Files copied in by other tools
    are objects too (their etag is computed on first ``head``/``list`` and cached)."""

    scheme = "file"

    def __init__(self, root: Path) -> None:
        self.root = root
        # str(path) -> (size, mtime_ns, etag): hashing a file again only when it changed.
        self._etags: dict[str, tuple[int, int, str]] = {}

    @classmethod
    def from_settings(
        cls, uri: str, settings: Settings, ports_so_far: PortsSoFar
    ) -> LocalObjectStore:
        """The folder of ``file://<path>``."""
        return cls(root=Path(path_of(uri)))

    def __reduce__(self) -> tuple[type[LocalObjectStore], tuple[Path]]:
        return (LocalObjectStore, (self.root,))

    def path_of(self, bucket: str, key: str) -> Path:
        """The file that holds ``bucket``/``key`` (validated; it may not exist)."""
        return self._bucket_dir(bucket).joinpath(*validate_key(key).split("/"))

    def put(self, bucket: str, key: str, body: bytes | BinaryIO) -> ObjectInfo:
        path = self.path_of(bucket, key)
        if isinstance(body, bytes | bytearray | memoryview):
            return self._write(bucket, key, path, _written([bytes(body)]))
        if not hasattr(body, "read"):
            raise InvalidInput(
                f"cannot store a {type(body).__name__}: pass bytes or a binary file object "
                "(encode text first)",
                field="body",
            )
        return self._write(bucket, key, path, _written(iter(lambda: body.read(_CHUNK), b"")))

    def put_file(self, bucket: str, key: str, path: Path) -> ObjectInfo:
        target = self.path_of(bucket, key)
        try:
            handle = path.open("rb")
        except (FileNotFoundError, IsADirectoryError) as exc:
            raise NotFound(f"cannot upload {path}: no such file") from exc
        with handle:
            return self._write(bucket, key, target, _copied_from(handle.fileno()))

    def get(self, bucket: str, key: str) -> bytes:
        path = self.path_of(bucket, key)
        with self._opened(bucket, key, path) as handle:
            return handle.read()

    def download(self, bucket: str, key: str, path: Path) -> ObjectInfo:
        source = self.path_of(bucket, key)
        if _linked(source, path):
            # A put replaces an object by rename, never in place, so the link keeps seeing
            # the bytes it was made from: a copy of a large upload for free.
            return self.head(bucket, key)
        digest = hashlib.md5(usedforsecurity=False)
        with self._opened(bucket, key, source) as handle:
            info = os.fstat(handle.fileno())
            try:
                _copy_atomically(handle, path, digest)
            except OSError as exc:
                raise BackendUnavailable(
                    f"could not download {bucket}/{key} to {path}: {exc.strerror or exc}"
                ) from exc
        etag = digest.hexdigest()
        self._remember(source, info.st_size, info.st_mtime_ns, etag)
        return _object_info(bucket, key, info.st_size, info.st_mtime_ns, etag)

    def head(self, bucket: str, key: str) -> ObjectInfo:
        path = self.path_of(bucket, key)
        try:
            info = path.stat()
        except (FileNotFoundError, NotADirectoryError) as exc:
            raise _not_found(bucket, key) from exc
        if not stat.S_ISREG(info.st_mode):
            raise _not_found(bucket, key)
        etag = self._cached_etag(path, info.st_size, info.st_mtime_ns)
        if etag is not None:
            return _object_info(bucket, key, info.st_size, info.st_mtime_ns, etag)
        with self._opened(bucket, key, path) as handle:
            # Describe the file we hash, even if it was replaced since the stat above.
            info = os.fstat(handle.fileno())
            etag = _md5_of(handle)
        self._remember(path, info.st_size, info.st_mtime_ns, etag)
        return _object_info(bucket, key, info.st_size, info.st_mtime_ns, etag)

    def list(self, bucket: str, prefix: str = "") -> list[ObjectInfo]:
        objects: list[ObjectInfo] = []
        for found in self.files(bucket, prefix):
            with suppress(NotFound):  # deleted since the walk saw it
                objects.append(self.head(bucket, found.key))
        return objects

    def files(self, bucket: str, prefix: str = "") -> _Files:
        """The files ``list`` would describe, sorted by key, without hashing them."""
        bucket_dir = self._bucket_dir(bucket)
        folder, _, _ = prefix.rpartition("/")
        # A prefix that no valid key can start with matches nothing (and must not let the
        # walk leave the bucket, as '../' would).
        if folder and _key_problem(folder):
            return []
        found: _Files = []
        for key, path in _walk(bucket_dir, bucket_dir.joinpath(*folder.split("/"))):
            if not key.startswith(prefix) or _key_problem(key):
                continue
            try:
                info = path.stat()
            except OSError:
                continue
            if stat.S_ISREG(info.st_mode):
                found.append(LocalFile(key, path, info.st_size, info.st_mtime_ns))
        return sorted(found)

    def delete(self, bucket: str, key: str) -> None:
        path = self.path_of(bucket, key)
        try:
            path.unlink()
        except (FileNotFoundError, NotADirectoryError):
            return
        except OSError as exc:
            if path.is_dir():  # a "folder" of other objects is not an object
                return
            raise BackendUnavailable(f"could not delete {bucket}/{key} ({path}): {exc}") from exc
        self._etags.pop(str(path), None)
        # Empty folders are an artefact of the folder layout; S3 has none.
        bucket_dir = self._bucket_dir(bucket)
        parent = path.parent
        while parent != bucket_dir:
            try:
                parent.rmdir()
            except OSError:
                break
            parent = parent.parent

    def delete_prefix(self, bucket: str, prefix: str) -> int:
        found = self.files(bucket, check_folder_prefix(prefix))
        for file in found:
            self.delete(bucket, file.key)
        return len(found)

    def _bucket_dir(self, bucket: str) -> Path:
        if not isinstance(bucket, str) or not bucket or "/" in bucket or _key_problem(bucket):
            raise InvalidInput(
                f"invalid bucket name {bucket!r}: use one folder name such as 'raw'", field="bucket"
            )
        return self.root / bucket

    def _write(self, bucket: str, key: str, path: Path, fill: _Fill) -> ObjectInfo:
        tmp_dir = self._bucket_dir(bucket) / _TMP
        try:
            tmp_dir.mkdir(parents=True, exist_ok=True)
            fd, partial = tempfile.mkstemp(dir=tmp_dir, prefix="put-")
        except OSError as exc:
            raise _unwritable(bucket, key, exc) from exc
        try:
            with os.fdopen(fd, "wb") as out:
                etag = fill(out, partial)
                info = os.fstat(out.fileno())  # rename keeps size and mtime
                _keep_etag(out.fileno(), info.st_size, info.st_mtime_ns, etag)
            os.chmod(partial, 0o644)
            _move_into_place(partial, path, bucket, key)
        except BaseException as exc:
            with suppress(FileNotFoundError):
                os.unlink(partial)
            if isinstance(exc, OSError):
                raise _unwritable(bucket, key, exc) from exc
            raise
        self._remember(path, info.st_size, info.st_mtime_ns, etag)
        return _object_info(bucket, key, info.st_size, info.st_mtime_ns, etag)

    def _opened(self, bucket: str, key: str, path: Path) -> BinaryIO:
        try:
            return path.open("rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
            raise _not_found(bucket, key) from exc

    def _cached_etag(self, path: Path, size: int, mtime_ns: int) -> str | None:
        cached = self._etags.get(str(path))
        if cached is not None and cached[:2] == (size, mtime_ns):
            return cached[2]
        return _kept_etag(path, size, mtime_ns)

    def _remember(self, path: Path, size: int, mtime_ns: int, etag: str) -> None:
        if len(self._etags) >= _MAX_CACHED_ETAGS:
            self._etags.clear()
        self._etags[str(path)] = (size, mtime_ns, etag)


def _key_problem(key: str) -> str | None:
    if key.startswith("/"):
        return "it starts with '/'; keys are relative, like 'project/file.csv'"
    if "\\" in key or "\x00" in key:
        return "it contains a backslash or NUL; separate parts with '/'"
    try:
        size = len(key.encode("utf-8"))
    except UnicodeEncodeError:
        return "it is not valid Unicode text"
    if size > _MAX_KEY_BYTES:
        return f"it is {size} bytes long; the limit is {_MAX_KEY_BYTES}"
    for part in key.split("/"):
        if not part:
            return "it has an empty part (a doubled or trailing '/')"
        if part in (".", ".."):
            return f"it has a {part!r} part; keys cannot point outside their bucket"
        if part.startswith("."):
            return f"the part {part!r} starts with '.'; such names are reserved (rename it)"
        if len(part.encode("utf-8")) > _MAX_PART_BYTES:
            return f"the part {part[:20]!r}... is longer than {_MAX_PART_BYTES} bytes"
    return None


def _walk(bucket_dir: Path, start: Path) -> Iterator[tuple[str, Path]]:
    for dirpath, dirnames, filenames in os.walk(start):
        # Pruning in place stops the walk from entering .tmp/ and other hidden folders.
        dirnames[:] = [name for name in dirnames if not name.startswith(".")]
        relative = Path(dirpath).relative_to(bucket_dir).as_posix()
        for name in filenames:
            if not name.startswith("."):
                key = name if relative == "." else f"{relative}/{name}"
                yield key, Path(dirpath, name)


def _move_into_place(partial: str, path: Path, bucket: str, key: str) -> None:
    # A concurrent delete may remove the empty parent folder between mkdir and replace.
    for attempt in range(5):
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            os.replace(partial, path)
            return
        except FileNotFoundError:
            if attempt == 4:
                raise
        except (FileExistsError, NotADirectoryError, IsADirectoryError) as exc:
            raise InvalidInput(
                f"cannot store {bucket}/{key}: a folder store cannot hold both an object and "
                "objects under it as a folder (as 'a' and 'a/b'); choose another key",
                field="key",
            ) from exc


def _linked(source: Path, path: Path) -> bool:
    path.parent.mkdir(parents=True, exist_ok=True)
    with suppress(FileNotFoundError):
        path.unlink()
    try:
        os.link(source, path)
    except OSError:  # another file system, no such object, or links not allowed: copy
        return False
    return True


# Fills a put's temporary file (open, and its path) durably; returns the bytes' md5.
_Fill = Callable[[BinaryIO, str], str]


def _written(chunks: Iterable[bytes]) -> _Fill:
    def fill(out: BinaryIO, _: str) -> str:
        digest = hashlib.md5(usedforsecurity=False)
        for chunk in chunks:
            digest.update(chunk)
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
        return digest.hexdigest()

    return fill


def _copied_from(source: int) -> _Fill:
    """A copy made by the kernel (a tenth of the time of a copy through Python on a large
    file) while another thread hashes the source; both let go of the GIL."""

    def fill(out: BinaryIO, partial: str) -> str:
        out.flush()
        before = os.fstat(source)
        with ThreadPoolExecutor(1) as pool:
            hashing = pool.submit(_md5_at, source)
            _kernel_copy(source, out.fileno())
            os.fsync(out.fileno())
            etag = hashing.result()
        after = os.fstat(source)
        if _changed(before, after) or after.st_size != os.fstat(out.fileno()).st_size:
            # The file changed as it was copied: the etag must be that of the bytes stored.
            etag = _md5_at(out.fileno())
        return etag

    return fill


def _changed(before: os.stat_result, after: os.stat_result) -> bool:
    return (before.st_ino, before.st_size, before.st_mtime_ns) != (
        after.st_ino,
        after.st_size,
        after.st_mtime_ns,
    )


def _md5_at(fd: int) -> str:
    # pread: the copy moves the descriptor's offset; this reads by position.
    digest = hashlib.md5(usedforsecurity=False)
    offset = 0
    while chunk := os.pread(fd, _HASH_CHUNK, offset):
        digest.update(chunk)
        offset += len(chunk)
    return digest.hexdigest()


def _kernel_copy(source: int, target: int) -> None:
    try:
        while os.copy_file_range(source, target, 1 << 30):
            pass
    except OSError:  # a file system or kernel without copy_file_range: copy through Python
        os.ftruncate(target, 0)
        os.lseek(target, 0, os.SEEK_SET)
        offset = 0
        while chunk := os.pread(source, _CHUNK, offset):
            os.write(target, chunk)
            offset += len(chunk)


def _copy_atomically(source: BinaryIO, path: Path, digest: hashlib._Hash) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in iter(lambda: source.read(_CHUNK), b""):
                digest.update(chunk)
                out.write(chunk)
        os.chmod(partial, 0o644)
        os.replace(partial, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(partial)
        raise


def _keep_etag(fd: int, size: int, mtime_ns: int, etag: str) -> None:
    """Store the etag with the file, so that another process's ``head`` does not read
    the whole file again to learn it (the raw/ watch, heading a large upload)."""
    with suppress(OSError):  # a file system without extended attributes: hash on head
        os.setxattr(fd, _ETAG_ATTRIBUTE, f"{size}:{mtime_ns}:{etag}".encode())


def _kept_etag(path: Path, size: int, mtime_ns: int) -> str | None:
    try:
        kept = os.getxattr(path, _ETAG_ATTRIBUTE).decode()
    except (OSError, UnicodeDecodeError):
        return None
    # Size and mtime tie the etag to the bytes it was computed from: a file changed in
    # place by another tool keeps the attribute but no longer matches it.
    kept_size, kept_mtime, etag = [*kept.split(":"), "", "", ""][:3]
    return etag if (kept_size, kept_mtime) == (str(size), str(mtime_ns)) and etag else None


def _md5_of(handle: BinaryIO) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    for chunk in iter(lambda: handle.read(_CHUNK), b""):
        digest.update(chunk)
    return digest.hexdigest()


def _object_info(bucket: str, key: str, size: int, mtime_ns: int, etag: str) -> ObjectInfo:
    modified = datetime.fromtimestamp(mtime_ns / 1e9, tz=UTC)
    return ObjectInfo(bucket=bucket, key=key, size=size, etag=etag, last_modified=modified)


def _not_found(bucket: str, key: str) -> NotFound:
    return NotFound(f"no object {bucket}/{key}; list the bucket to see which keys exist")


def _unwritable(bucket: str, key: str, exc: OSError) -> BackendUnavailable:
    return BackendUnavailable(
        f"could not write {bucket}/{key}: {exc.strerror or exc}; check that the folder is "
        "writable and the disk is not full"
    )
