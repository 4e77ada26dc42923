"""File digests, in a module of their own so that light commands (``conveyor upload``) can
hash without importing the model libraries."""

from __future__ import annotations

import hashlib
from pathlib import Path


def sha256_file(path: Path) -> str:
    """The file's sha256, hex; read in blocks, so a file of any size is never whole in memory."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()
