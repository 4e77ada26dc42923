"""A digest of what a model artifact holds, file by file, that both its archive and the folder
it was unpacked into give the same way.

The registry keeps the sha256 of a version's ``model.tar.gz``. SageMaker's inference container
never sees those bytes: SageMaker downloads the object and unpacks it into ``/opt/ml/model``.
So the deploy takes this digest from the very bytes whose sha256 it checked and hands it to the
container, which computes it again over the folder before it loads anything: an object changed
between the deploy's check and SageMaker's download is refused there.

The digest is the sha256 of the sorted lines ``<path>\\0<kind>\\0<value>\\n``, one per member
that is not a folder: ``file`` and the content's sha256, ``link`` and its target, or ``other``.
Paths are relative, with ``/`` separators and no ``.`` parts.
"""

from __future__ import annotations

import hashlib
import os
import tarfile
import zlib
from pathlib import Path, PurePosixPath
from typing import IO, cast

from conveyor.hashing import sha256_file, sha256_stream

_CHUNK_BYTES = 1 << 20
_Entry = tuple[str, str, str]


def archive_digests(stream: IO[bytes]) -> tuple[str, str | None]:
    """(sha256 of the bytes, content digest) of a gzipped tar, read once from ``stream``; the
    content digest is None when the bytes are not a gzipped tar (the sha256 still says whose
    bytes they are)."""
    reader = _HashingReader(stream)
    entries: list[_Entry | None] = []
    try:
        # A stream mode only reads; typeshed asks any file object for write and seek too.
        with tarfile.open(fileobj=cast("IO[bytes]", reader), mode="r|gz") as archive:
            for member in archive:
                entries.append(_archive_entry(archive, member))
    except (tarfile.TarError, OSError, EOFError, zlib.error):
        reader.read_to_end()
        return reader.hexdigest(), None
    reader.read_to_end()  # the gzip trailer and tar padding count in the sha256 too
    return reader.hexdigest(), _digest([entry for entry in entries if entry is not None])


def folder_digest(folder: Path) -> str:
    """The content digest of an unpacked artifact (symbolic links are not followed)."""
    entries: list[_Entry] = []
    for root, folders, files in os.walk(folder):
        for name in [*folders, *files]:
            path = Path(root) / name
            relative = path.relative_to(folder).as_posix()
            if path.is_symlink():
                entries.append((relative, "link", os.readlink(path)))
            elif path.is_file():
                entries.append((relative, "file", sha256_file(path)))
            elif not path.is_dir():
                entries.append((relative, "other", ""))
    return _digest(entries)


def _archive_entry(archive: tarfile.TarFile, member: tarfile.TarInfo) -> _Entry | None:
    if member.isdir():
        return None
    name = _relative(member.name)
    if member.isfile():
        content = archive.extractfile(member)
        assert content is not None  # a regular file always has content
        return name, "file", sha256_stream(content)
    if member.issym() or member.islnk():
        return name, "link", member.linkname
    return name, "other", ""


def _relative(name: str) -> str:
    return PurePosixPath(*(part for part in PurePosixPath(name).parts if part != ".")).as_posix()


def _digest(entries: list[_Entry]) -> str:
    digest = hashlib.sha256()
    for name, kind, value in sorted(entries):
        digest.update(f"{name}\0{kind}\0{value}\n".encode())
    return digest.hexdigest()


class _HashingReader:
    """A read-only stream that hashes every byte read through it."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self._digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self._digest.update(data)
        return data

    def read_to_end(self) -> None:
        while self.read(_CHUNK_BYTES):
            pass

    def hexdigest(self) -> str:
        return self._digest.hexdigest()
