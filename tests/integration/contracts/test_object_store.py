"""The ObjectStore contract, run on every adapter; then the folder store's own promises."""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO, cast

import pytest

from conveyor.errors import InvalidInput, NotFound
from conveyor.storage import ObjectStore
from conveyor.storage.local import LocalObjectStore


def md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def test_delete_prefix_deletes_a_folders_objects_only(object_store: ObjectStore) -> None:
    for key in ("churn/a.csv", "churn/2026/b.parquet", "churn-2/a.csv", "churn.csv"):
        object_store.put("raw", key, b"x")

    assert object_store.delete_prefix("raw", "churn/") == 2
    assert [info.key for info in object_store.list("raw")] == ["churn-2/a.csv", "churn.csv"]
    assert object_store.delete_prefix("raw", "churn/") == 0
    for bad in ("", "/", "churn"):  # not a folder: would reach 'churn-2/' or everything
        with pytest.raises(InvalidInput):
            object_store.delete_prefix("raw", bad)
    assert len(object_store.list("raw")) == 2


class _ReaderBroke(Exception):
    pass


class _GatedReader(io.RawIOBase):
    """Yields one chunk, then waits for ``go`` before the rest (or raises, if ``fail``)."""

    def __init__(self, first: bytes, rest: bytes, *, fail: bool = False) -> None:
        self.chunks = [first, rest]
        self.fail = fail
        self.first_sent = threading.Event()
        self.go = threading.Event()

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self.chunks and len(self.chunks) == 1:
            assert self.go.wait(10)
            if self.fail:
                raise _ReaderBroke("the upload's source went away")
        chunk = self.chunks.pop(0) if self.chunks else b""
        if len(self.chunks) == 1:
            self.first_sent.set()
        return chunk


@pytest.mark.parametrize(
    "body",
    [b"a,b\n1,2\n", b"", bytes(range(256)) * 5000],
    ids=["small", "empty", "over-a-chunk"],
)
@pytest.mark.parametrize("as_stream", [False, True], ids=["bytes", "stream"])
def test_put_then_get_round_trips_the_bytes(
    object_store: ObjectStore, body: bytes, as_stream: bool
) -> None:
    info = object_store.put("raw", "churn/data.csv", io.BytesIO(body) if as_stream else body)

    assert object_store.get("raw", "churn/data.csv") == body
    assert (info.bucket, info.key, info.size, info.etag) == (
        "raw",
        "churn/data.csv",
        len(body),
        md5(body),
    )
    assert abs(info.last_modified - datetime.now(UTC)) < timedelta(minutes=1)


def test_put_file_and_download_stream_through_local_files(
    object_store: ObjectStore, tmp_path: Path
) -> None:
    source = tmp_path / "in.bin"
    source.write_bytes(os.urandom(3 << 20))

    stored = object_store.put_file("models", "churn/run-1/model.tar.gz", source)
    target = tmp_path / "out" / "nested" / "model.tar.gz"
    fetched = object_store.download("models", "churn/run-1/model.tar.gz", target)

    assert target.read_bytes() == source.read_bytes()
    assert stored.etag == fetched.etag == md5(source.read_bytes())
    assert stored.size == fetched.size == 3 << 20


def test_put_file_of_a_missing_file_raises_not_found(
    object_store: ObjectStore, tmp_path: Path
) -> None:
    with pytest.raises(NotFound, match=re.escape("nope.csv")):
        object_store.put_file("raw", "churn/x.csv", tmp_path / "nope.csv")


def test_a_body_that_is_not_bytes_is_rejected(object_store: ObjectStore) -> None:
    with pytest.raises(InvalidInput) as info:
        object_store.put("raw", "p/f.csv", cast(bytes, "text, not bytes"))

    assert info.value.field == "body"
    assert object_store.list("raw") == []


def test_etag_follows_the_content_only(object_store: ObjectStore) -> None:
    first = object_store.put("raw", "p/f.csv", b"one")
    again = object_store.put("raw", "p/f.csv", b"one")
    changed = object_store.put("raw", "p/f.csv", b"two")

    assert first.etag == again.etag
    assert changed.etag != first.etag
    assert object_store.head("raw", "p/f.csv").etag == changed.etag
    assert object_store.head("raw", "p/f.csv") == object_store.head("raw", "p/f.csv")


def test_head_and_list_describe_what_put_stored(object_store: ObjectStore) -> None:
    info = object_store.put("reports", "churn/report.json", b'{"ok": true}')

    assert object_store.head("reports", "churn/report.json") == info
    assert object_store.list("reports") == [info]


def test_list_filters_by_prefix_and_sorts_by_key(object_store: ObjectStore) -> None:
    keys = ["p/b.csv", "p/a/2.csv", "q/a.csv", "p/a/1.csv", "pz.csv", "p/a.csv"]
    for key in keys:
        object_store.put("processed", key, key.encode())

    def listed(prefix: str) -> list[str]:
        return [info.key for info in object_store.list("processed", prefix)]

    assert listed("") == sorted(keys)
    assert listed("p/") == ["p/a.csv", "p/a/1.csv", "p/a/2.csv", "p/b.csv"]
    assert listed("p/a") == ["p/a.csv", "p/a/1.csv", "p/a/2.csv"]
    assert listed("p") == ["p/a.csv", "p/a/1.csv", "p/a/2.csv", "p/b.csv", "pz.csv"]
    assert listed("nothing/") == []
    assert object_store.list("models") == []


def test_an_unfinished_put_is_invisible(object_store: ObjectStore) -> None:
    object_store.put("raw", "p/other.csv", b"x")
    reader = _GatedReader(b"a" * 1000, b"b" * 1000)
    writer = threading.Thread(target=object_store.put, args=("raw", "p/big.csv", reader))
    writer.start()
    try:
        assert reader.first_sent.wait(10)
        assert [info.key for info in object_store.list("raw")] == ["p/other.csv"]
        with pytest.raises(NotFound):
            object_store.head("raw", "p/big.csv")
    finally:
        reader.go.set()
        writer.join(10)
    assert object_store.get("raw", "p/big.csv") == b"a" * 1000 + b"b" * 1000


def test_a_failed_put_keeps_the_old_object(object_store: ObjectStore) -> None:
    object_store.put("raw", "p/f.csv", b"old")
    reader = _GatedReader(b"new, partial", b"never", fail=True)
    reader.go.set()

    with pytest.raises(_ReaderBroke):
        object_store.put("raw", "p/f.csv", cast(BinaryIO, reader))

    assert object_store.get("raw", "p/f.csv") == b"old"
    assert [info.key for info in object_store.list("raw")] == ["p/f.csv"]


def test_readers_see_the_old_or_the_new_object_never_a_mix(object_store: ObjectStore) -> None:
    versions = [bytes([n]) * (2 << 20) for n in (1, 2)]
    object_store.put("models", "p/model.bin", versions[0])
    seen: list[bytes] = []
    done = threading.Event()

    def hammer() -> None:
        while not done.is_set():
            seen.append(object_store.get("models", "p/model.bin"))

    reader = threading.Thread(target=hammer)
    reader.start()
    try:
        for round_ in range(12):
            object_store.put("models", "p/model.bin", versions[round_ % 2])
    finally:
        done.set()
        reader.join(10)
    assert seen
    assert all(body in versions for body in seen), "a reader saw a partly written object"


@pytest.mark.parametrize(
    "read",
    [
        lambda store, path: store.get("raw", "p/missing.csv"),
        lambda store, path: store.head("raw", "p/missing.csv"),
        lambda store, path: store.download("raw", "p/missing.csv", path),
    ],
    ids=["get", "head", "download"],
)
def test_reading_a_missing_object_raises_not_found_naming_it(
    object_store: ObjectStore, tmp_path: Path, read: Callable[[ObjectStore, Path], object]
) -> None:
    object_store.put("raw", "p/present.csv", b"x")

    with pytest.raises(NotFound, match=re.escape("raw/p/missing.csv")):
        read(object_store, tmp_path / "out.csv")
    assert not (tmp_path / "out.csv").exists()


def test_delete_removes_and_deleting_again_is_fine(object_store: ObjectStore) -> None:
    object_store.put("raw", "p/a.csv", b"a")
    object_store.put("raw", "p/b.csv", b"b")

    object_store.delete("raw", "p/a.csv")
    object_store.delete("raw", "p/a.csv")
    object_store.delete("raw", "never/there.csv")

    assert [info.key for info in object_store.list("raw")] == ["p/b.csv"]
    with pytest.raises(NotFound):
        object_store.get("raw", "p/a.csv")


@pytest.mark.parametrize(
    "key",
    [
        "",
        "/etc/passwd",
        "p/../../x",
        "..",
        "./p/x",
        "p\\x.csv",
        "p/x\x00.csv",
        ".tmp/put-1",
        "p//x.csv",
        "p/",
    ],
    ids=[
        "empty",
        "absolute",
        "dotdot",
        "only-dotdot",
        "dot",
        "backslash",
        "nul",
        "tmp",
        "double-slash",
        "trailing-slash",
    ],
)
def test_invalid_keys_are_rejected_naming_the_key_field(
    object_store: ObjectStore, key: str
) -> None:
    for call in (
        lambda: object_store.put("raw", key, b"x"),
        lambda: object_store.get("raw", key),
        lambda: object_store.head("raw", key),
        lambda: object_store.delete("raw", key),
    ):
        with pytest.raises(InvalidInput) as info:
            call()
        assert info.value.field == "key"
    assert object_store.list("raw") == []


def test_objects_survive_a_new_store_instance(
    make_object_store: Callable[[], ObjectStore],
) -> None:
    info = make_object_store().put("raw", "p/f.csv", b"kept")

    again = make_object_store()

    assert again.get("raw", "p/f.csv") == b"kept"
    assert again.head("raw", "p/f.csv") == info


# The folder store's own promises: files put there by other tools are objects too.


@pytest.fixture
def folder_store(tmp_path: Path) -> LocalObjectStore:
    return LocalObjectStore(root=tmp_path / "buckets")


def test_the_folder_store_touches_nothing_until_used(tmp_path: Path) -> None:
    LocalObjectStore(root=tmp_path / "buckets")

    assert not (tmp_path / "buckets").exists()


def test_objects_are_plain_files_under_root_bucket_key(folder_store: LocalObjectStore) -> None:
    folder_store.put("raw", "churn/data.csv", b"a,b\n")

    assert (folder_store.root / "raw" / "churn" / "data.csv").read_bytes() == b"a,b\n"


def test_a_file_copied_in_by_another_tool_is_an_object(
    folder_store: LocalObjectStore, tmp_path: Path
) -> None:
    source = tmp_path / "outside.csv"
    source.write_bytes(b"x,y\n1,2\n")
    (folder_store.root / "raw" / "churn").mkdir(parents=True)
    shutil.copyfile(source, folder_store.root / "raw" / "churn" / "copied.csv")

    info = folder_store.head("raw", "churn/copied.csv")

    assert (info.size, info.etag) == (8, md5(b"x,y\n1,2\n"))
    assert folder_store.list("raw") == [info]


def test_head_notices_a_file_rewritten_behind_its_back(folder_store: LocalObjectStore) -> None:
    before = folder_store.put("raw", "p/f.csv", b"first")
    path = folder_store.root / "raw" / "p" / "f.csv"
    path.write_bytes(b"other")  # same size, new content
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))

    after = folder_store.head("raw", "p/f.csv")

    assert after.etag == md5(b"other") != before.etag


def test_temp_and_hidden_files_are_never_listed(folder_store: LocalObjectStore) -> None:
    folder_store.put("raw", "p/real.csv", b"x")
    bucket = folder_store.root / "raw"
    (bucket / ".tmp").mkdir(exist_ok=True)
    (bucket / ".tmp" / "put-abc").write_bytes(b"half")
    (bucket / "p" / ".DS_Store").write_bytes(b"litter")
    (bucket / ".git").mkdir()
    (bucket / ".git" / "config").write_bytes(b"x")

    assert [info.key for info in folder_store.list("raw")] == ["p/real.csv"]


def test_delete_removes_emptied_folders_but_keeps_the_bucket(
    folder_store: LocalObjectStore,
) -> None:
    folder_store.put("processed", "churn/ds1/train.parquet", b"x")
    folder_store.put("processed", "keep/me.csv", b"x")

    folder_store.delete("processed", "churn/ds1/train.parquet")

    bucket = folder_store.root / "processed"
    assert not (bucket / "churn").exists()
    assert (bucket / "keep" / "me.csv").exists()


def test_an_object_cannot_also_be_a_folder(folder_store: LocalObjectStore) -> None:
    folder_store.put("raw", "p/a", b"x")

    with pytest.raises(InvalidInput, match="choose another key"):
        folder_store.put("raw", "p/a/b", b"y")
    assert folder_store.get("raw", "p/a") == b"x"
    assert not list((folder_store.root / "raw" / ".tmp").iterdir())
