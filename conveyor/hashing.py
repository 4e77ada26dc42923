"""File digests, in a module of their own so that light commands (``conveyor upload``) can
hash without importing the model libraries."""

from __future__ import annotations

import hashlib
from pathlib import Path


def sha256_file(path: Path) -> str:
    """The file's sha256, hex; read in blocks, so a file of any size is never whole in memory."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def upload_dataset_id(sha256: str, *, sheet: str | None = None) -> str:
    """The dataset id of an upload: its bytes' sha256, or for one sheet of a workbook a digest
    of the bytes and the sheet, so that two sheets of one file are two data sets (each with
    its own processed/ folder) and the same sheet uploaded twice trains once."""
    if sheet is None:
        return sha256
    return hashlib.sha256(f"{sha256}\nsheet={sheet}".encode()).hexdigest()
