"""The raw/ watch: a file copied into the raw bucket's folder by any tool starts a run."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from conveyor.errors import ConfigError
from conveyor.events import Event, EventType
from conveyor.events.sqlite import SqliteEventBus
from conveyor.events.watch import RawWatch
from conveyor.storage.local import LocalObjectStore
from conveyor.types import to_iso

SETTLE = 0.3


@pytest.fixture
def store(tmp_path: Path) -> LocalObjectStore:
    return LocalObjectStore(root=tmp_path / "buckets")


@pytest.fixture
def bus(tmp_path: Path) -> Iterator[SqliteEventBus]:
    bus = SqliteEventBus(path=tmp_path / "conveyor.db")
    yield bus
    bus.close()


@pytest.fixture
def make_watch(
    store: LocalObjectStore, bus: SqliteEventBus, tmp_path: Path
) -> Iterator[Callable[[], RawWatch]]:
    """A new watch on the same state each call, as after a restart."""
    watches: list[RawWatch] = []

    def make() -> RawWatch:
        watch = RawWatch(store, bus, tmp_path / "watch.db", settle_seconds=SETTLE)
        watches.append(watch)
        return watch

    yield make
    for watch in watches:
        watch.close()


def drop(store: LocalObjectStore, key: str, data: bytes, *, age: float = 10.0) -> Path:
    """Copy a file into raw/ as another tool would, last modified ``age`` seconds ago."""
    source = store.root.parent / "outside" / key.replace("/", "_")
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_bytes(data)
    target = store.root / "raw" / key
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    if age:
        moment = time.time() - age
        os.utime(target, (moment, moment))
    return target


def keys(events: list[Event]) -> list[str]:
    return [event.detail["key"] for event in events]


def test_a_copied_file_is_published_exactly_once(
    make_watch: Callable[[], RawWatch], store: LocalObjectStore, bus: SqliteEventBus
) -> None:
    drop(store, "churn/dropped.csv", b"a,b\n1,2\n")
    watch = make_watch()

    first, second = watch.scan_once(), watch.scan_once()

    assert second == []
    [message] = bus.receive()
    assert message.event == first[0]
    assert message.event.type is EventType.OBJECT_CREATED
    assert message.event.detail == {
        "bucket": "raw",
        "key": "churn/dropped.csv",
        "size": 8,
        "etag": hashlib.md5(b"a,b\n1,2\n", usedforsecurity=False).hexdigest(),
        # Which write of the file this is: another copy of the same bytes is another write.
        "written": to_iso(store.head("raw", "churn/dropped.csv").last_modified),
        "source": "watch",
    }


def test_a_restart_does_not_publish_again(
    make_watch: Callable[[], RawWatch], store: LocalObjectStore, bus: SqliteEventBus
) -> None:
    drop(store, "churn/a.csv", b"x\n1\n")
    assert keys(make_watch().scan_once()) == ["churn/a.csv"]

    assert make_watch().scan_once() == []
    assert bus.depth() == 1


def test_a_file_added_while_no_watch_ran_is_published_on_the_next_start(
    make_watch: Callable[[], RawWatch], store: LocalObjectStore
) -> None:
    drop(store, "churn/a.csv", b"x\n1\n")
    make_watch().scan_once()

    drop(store, "churn/b.csv", b"x\n2\n")
    drop(store, "other/c.csv", b"x\n3\n")

    assert keys(make_watch().scan_once()) == ["churn/b.csv", "other/c.csv"]


def test_a_growing_file_is_published_only_once_it_stops_changing(
    make_watch: Callable[[], RawWatch], store: LocalObjectStore
) -> None:
    watch = make_watch()
    target = drop(store, "churn/big.csv", b"x\n" * 1000, age=0)
    assert watch.scan_once() == []

    with target.open("ab") as handle:
        handle.write(b"y\n" * 1000)
    assert watch.scan_once() == []
    time.sleep(SETTLE + 0.1)
    [event] = watch.scan_once()

    assert event.detail["size"] == 4000


def test_a_file_changed_since_the_last_scan_waits_even_if_its_mtime_looks_old(
    make_watch: Callable[[], RawWatch], store: LocalObjectStore
) -> None:
    # A file whose size keeps changing is not settled even when its mtime looks old.
    watch = make_watch()
    target = drop(store, "churn/synced.csv", b"x\n", age=100)
    assert keys(watch.scan_once()) == ["churn/synced.csv"]

    target.write_bytes(b"x\n1\n")
    os.utime(target, (time.time() - 50, time.time() - 50))
    assert watch.scan_once() == []
    [event] = watch.scan_once()

    assert event.detail["size"] == 4


def test_new_content_under_the_same_name_is_published_again_but_a_touch_is_not(
    make_watch: Callable[[], RawWatch], store: LocalObjectStore
) -> None:
    watch = make_watch()
    drop(store, "churn/data.csv", b"v1\n")
    [first] = watch.scan_once()

    drop(store, "churn/data.csv", b"v1\n", age=5)  # same bytes, new mtime
    assert watch.scan_once() + watch.scan_once() == []
    drop(store, "churn/data.csv", b"v2\n", age=3)
    [second] = watch.scan_once() + watch.scan_once()  # the first sees it change

    assert second.detail["etag"] != first.detail["etag"]


def test_a_deleted_file_copied_in_again_is_a_new_upload(
    make_watch: Callable[[], RawWatch], store: LocalObjectStore
) -> None:
    watch = make_watch()
    target = drop(store, "churn/data.csv", b"v1\n")
    assert len(watch.scan_once()) == 1

    target.unlink()
    assert watch.scan_once() == []
    drop(store, "churn/data.csv", b"v1\n")

    assert keys(watch.scan_once()) == ["churn/data.csv"]


def test_paths_that_are_not_project_slash_file_are_ignored_with_a_warning(
    make_watch: Callable[[], RawWatch],
    store: LocalObjectStore,
    bus: SqliteEventBus,
    caplog: pytest.LogCaptureFixture,
) -> None:
    for key in [
        "top.csv",
        "churn/deeper/x.csv",
        "churn/.hidden.csv",
        "churn/draft.csv~",
        "churn/download.csv.part",
        ".tmp/put-123",
    ]:
        drop(store, key, b"x\n")
    drop(store, "churn/good.csv", b"x\n")

    with caplog.at_level(logging.WARNING, logger="conveyor"):
        published = make_watch().scan_once()

    assert keys(published) == ["churn/good.csv"]
    assert bus.depth() == 1
    warned = caplog.text
    assert "top.csv" in warned and "churn/deeper/x.csv" in warned
    assert "<project>/<file>" in warned


def test_the_watch_state_cannot_be_the_queue_s_own_file(
    store: LocalObjectStore, bus: SqliteEventBus
) -> None:
    with pytest.raises(ConfigError, match="own file"):
        RawWatch(store, bus, bus.path)


def test_run_publishes_a_copied_file_within_seconds_and_stops_promptly(
    store: LocalObjectStore, bus: SqliteEventBus, tmp_path: Path
) -> None:
    drop(store, "churn/before.csv", b"x\n0\n")
    watch = RawWatch(store, bus, tmp_path / "watch.db", settle_seconds=0.2, rescan_seconds=5.0)
    stop = threading.Event()
    thread = threading.Thread(target=watch.run, args=(stop,), daemon=True)
    thread.start()
    try:
        _wait_for(lambda: bus.depth() == 1, "the file present at start was not published")
        drop(store, "churn/after.csv", b"x\n1\n", age=0)
        _wait_for(lambda: bus.depth() == 2, "a file copied in while running was not published")
    finally:
        stopped_at = time.monotonic()
        stop.set()
        thread.join(5)
    assert not thread.is_alive()
    assert time.monotonic() - stopped_at < 2.0
    assert sorted(keys([m.event for m in bus.receive()])) == ["churn/after.csv", "churn/before.csv"]


def _wait_for(condition: Callable[[], bool], message: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, message
        time.sleep(0.05)
