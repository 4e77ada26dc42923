"""The folder store keeps each object's etag with its file, so another process (the raw/
watch) learns it without reading a large upload again."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from conveyor.storage.local import LocalObjectStore


def test_a_second_store_reads_the_kept_etag_instead_of_hashing(tmp_path: Path) -> None:
    writer = LocalObjectStore(tmp_path)
    put = writer.put("raw", "p/data.csv", b"a,b\n1,2\n")
    path = writer.path_of("raw", "p/data.csv")
    stat = path.stat()
    # Same size, same mtime, other bytes: only a store that did not read them keeps the etag.
    path.write_bytes(b"a,b\n3,4\n")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))

    reader = LocalObjectStore(tmp_path)
    assert reader.head("raw", "p/data.csv").etag == put.etag


def test_a_file_changed_in_place_is_hashed_again(tmp_path: Path) -> None:
    writer = LocalObjectStore(tmp_path)
    writer.put("raw", "p/data.csv", b"a,b\n1,2\n")
    path = writer.path_of("raw", "p/data.csv")
    path.write_bytes(b"a,b\n1,2\n3,4\n")  # an editor saving over it: size and mtime change

    reader = LocalObjectStore(tmp_path)
    assert reader.head("raw", "p/data.csv").etag == hashlib.md5(path.read_bytes()).hexdigest()
