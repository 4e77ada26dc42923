"""File digests, in a module of their own so that light commands (``conveyor upload``) can
hash without importing the model libraries."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import IO

CHUNK_BYTES = 1 << 20


def sha256_file(path: Path) -> str:
    """The file's sha256, hex; read in blocks, so a file of any size is never whole in memory."""
    with path.open("rb") as handle:
        return sha256_stream(handle)


def sha256_stream(stream: IO[bytes]) -> str:
    """The sha256 of what ``stream`` still holds, hex; read in blocks (``read`` only: an S3
    body has no ``readinto`` for ``hashlib.file_digest``)."""
    digest = hashlib.sha256()
    while chunk := stream.read(CHUNK_BYTES):
        digest.update(chunk)
    return digest.hexdigest()


def sha256_mismatch(stream: IO[bytes], expected: str) -> str | None:
    """The stream's sha256 when it is not ``expected`` (None when it is). The one check of
    stored bytes against the sha256 a registry recorded: the Lambda side and every deploy
    stream the stored object through it, the local loader its downloaded copy."""
    found = sha256_stream(stream)
    return None if found == expected else found


def upload_dataset_id(sha256: str, *, sheet: str | None = None) -> str:
    """The dataset id of an upload: its bytes' sha256, or for one sheet of a workbook a digest
    of the bytes and the sheet, so that two sheets of one file are two data sets (each with
    its own processed/ folder) and the same sheet uploaded twice trains once."""
    if sheet is None:
        return sha256
    return hashlib.sha256(f"{sha256}\nsheet={sheet}".encode()).hexdigest()
