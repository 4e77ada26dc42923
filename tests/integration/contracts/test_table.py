"""The Table contract, run on every adapter; then the SQLite table's own promises."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import threading
import warnings
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from conveyor.errors import AlreadyExists, InvalidInput
from conveyor.tables import Item, Table
from conveyor.tables.dynamodb import DynamoDbTable, create_table
from conveyor.tables.sqlite import SqliteTable
from tests.integration.contracts.serial_moto import serial_moto_server


def test_put_then_get_round_trips_a_json_item(table: Table) -> None:
    item = {
        "pk": "project#churn",
        "sk": "run#0001",
        "name": "churn: ünïcode ✓ 日本",
        "count": 3,
        "ratio": 0.25,
        "ok": True,
        "missing": None,
        "tags": ["a", "b"],
        "nested": {"metrics": {"auc": 0.91}, "list": [1, {"x": "y"}]},
    }
    table.put(item)

    assert table.get("project#churn", "run#0001") == item
    assert table.get("project#churn", "run#0002") is None
    assert table.get("project#other", "run#0001") is None


def test_delete_partition_deletes_every_item_of_that_partition_only(table: Table) -> None:
    # More items than one DynamoDB batch (25) holds.
    table.put_many({"pk": "inference#churn", "sk": f"{i:04d}", "n": i} for i in range(60))
    table.put({"pk": "inference#churn-2", "sk": "0001"})
    table.put({"pk": "inference#chur", "sk": "0001"})

    assert table.delete_partition("inference#churn") == 60
    assert table.query("inference#churn") == []
    assert table.get("inference#churn-2", "0001") is not None
    assert table.get("inference#chur", "0001") is not None
    assert table.delete_partition("inference#churn") == 0
    with pytest.raises(InvalidInput):
        table.delete_partition("")


def test_put_replaces_the_whole_item(table: Table) -> None:
    table.put({"pk": "a", "sk": "1", "old": 1, "both": "x"})
    table.put({"pk": "a", "sk": "1", "both": "y"})

    assert table.get("a", "1") == {"pk": "a", "sk": "1", "both": "y"}


def test_put_if_not_exists_refuses_an_existing_key(table: Table) -> None:
    table.put({"pk": "a", "sk": "1", "v": "first"}, if_not_exists=True)

    with pytest.raises(AlreadyExists):
        table.put({"pk": "a", "sk": "1", "v": "second"}, if_not_exists=True)
    table.put({"pk": "a", "sk": "2", "v": "other key"}, if_not_exists=True)

    assert table.get("a", "1") == {"pk": "a", "sk": "1", "v": "first"}


def test_put_if_match_writes_only_over_the_expected_item(table: Table) -> None:
    table.put({"pk": "run", "sk": "r1", "state": "QUEUED", "revision": 0})

    table.put(
        {"pk": "run", "sk": "r1", "state": "TRAINING", "revision": 1},
        if_match={"revision": 0, "state": "QUEUED"},
    )
    with pytest.raises(AlreadyExists):  # a stale writer still expects revision 0
        table.put(
            {"pk": "run", "sk": "r1", "state": "FAILED", "revision": 1}, if_match={"revision": 0}
        )
    with pytest.raises(AlreadyExists):  # an attribute the item does not have
        table.put({"pk": "run", "sk": "r1", "state": "X"}, if_match={"owner": None})
    with pytest.raises(AlreadyExists):  # no item at all
        table.put({"pk": "run", "sk": "r2", "state": "X"}, if_match={"revision": 0})

    assert table.get("run", "r1") == {"pk": "run", "sk": "r1", "state": "TRAINING", "revision": 1}
    assert table.get("run", "r2") is None


def _put_first(table: Table, name: str, barrier: Any, results: Any) -> None:
    barrier.wait(30)
    try:
        table.put({"pk": "lock", "sk": "leader", "owner": name}, if_not_exists=True)
        results.put(name)
    except AlreadyExists:
        results.put(None)


def _increment(table: Table, times: int, barrier: Any) -> None:
    barrier.wait(30)
    for _ in range(times):
        while True:
            current = table.get("counter", "c")
            assert current is not None
            try:
                table.put({**current, "n": current["n"] + 1}, if_match={"n": current["n"]})
                break
            except AlreadyExists:
                continue


@pytest.fixture
def racing(table: Table, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Table]]:
    """Fresh interpreters, as separate CLI and worker processes would be, and the table they
    race on: the SQLite file itself, or for DynamoDB the same table on a moto server over
    real HTTP (the in-process mock exists in one interpreter only; see serial_moto)."""
    spawn = multiprocessing.get_context("spawn")
    if isinstance(table, SqliteTable):
        yield spawn, table
        return
    assert isinstance(table, DynamoDbTable)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with serial_moto_server() as endpoint_url:
        create_table(table.name, endpoint_url=endpoint_url)
        yield spawn, DynamoDbTable(table.name, endpoint_url=endpoint_url)


def test_exactly_one_of_several_processes_wins_an_if_not_exists_race(
    racing: tuple[Any, Table],
) -> None:
    spawn, table = racing
    racers = 4
    barrier, results = spawn.Barrier(racers), spawn.Queue()
    processes = [
        spawn.Process(target=_put_first, args=(table, f"p{n}", barrier, results))
        for n in range(racers)
    ]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=30) for _ in processes]
    for process in processes:
        process.join(30)

    winners = [name for name in outcomes if name is not None]
    assert len(winners) == 1, outcomes
    stored = table.get("lock", "leader")
    assert stored is not None and stored["owner"] == winners[0]


def test_if_match_loses_no_update_when_processes_race(racing: tuple[Any, Table]) -> None:
    spawn, table = racing
    workers, times = 3, 15
    table.put({"pk": "counter", "sk": "c", "n": 0})
    barrier = spawn.Barrier(workers)
    processes = [
        spawn.Process(target=_increment, args=(table, times, barrier)) for _ in range(workers)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)

    assert [process.exitcode for process in processes] == [0] * workers
    assert table.get("counter", "c") == {"pk": "counter", "sk": "c", "n": workers * times}


@pytest.fixture
def sorted_table(table: Table) -> Table:
    sort_keys = ["2024-01-02#b", "2024-01-01#a", "2024-01-03#c", "2024-02-01#d", "2025-01-01#e"]
    for sk in sort_keys:
        table.put({"pk": "inference#churn", "sk": sk})
    table.put({"pk": "inference#other", "sk": "2024-01-01#z"})
    return table


def _sks(items: list[Item]) -> list[str]:
    return [item["sk"] for item in items]


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, ["2024-01-01#a", "2024-01-02#b", "2024-01-03#c", "2024-02-01#d", "2025-01-01#e"]),
        ({"descending": True, "limit": 2}, ["2025-01-01#e", "2024-02-01#d"]),
        ({"limit": 1}, ["2024-01-01#a"]),
        ({"limit": 0}, []),
        ({"sk_prefix": "2024-01"}, ["2024-01-01#a", "2024-01-02#b", "2024-01-03#c"]),
        ({"sk_prefix": "2024-01", "descending": True, "limit": 1}, ["2024-01-03#c"]),
        ({"sk_gte": "2024-01-02", "sk_lt": "2024-02-01#d"}, ["2024-01-02#b", "2024-01-03#c"]),
        ({"sk_prefix": "2024", "sk_gte": "2024-01-03"}, ["2024-01-03#c", "2024-02-01#d"]),
        ({"sk_prefix": "2026"}, []),
    ],
    ids=[
        "all",
        "newest-two",
        "limit",
        "limit-zero",
        "prefix",
        "prefix-desc",
        "range",
        "prefix-and-range",
        "no-match",
    ],
)
def test_query_orders_filters_and_limits_one_partition(
    sorted_table: Table, kwargs: dict[str, Any], expected: list[str]
) -> None:
    assert _sks(sorted_table.query("inference#churn", **kwargs)) == expected


def test_query_prefix_treats_sql_wildcards_and_any_unicode_literally(table: Table) -> None:
    sort_keys = ["a%b", "a%b/1", "axb", "a_c", "abc", "a%b\U0001f600", "a%c", "a%b\uffff"]
    for sk in sort_keys:
        table.put({"pk": "p", "sk": sk})

    assert _sks(table.query("p", sk_prefix="a%b")) == ["a%b", "a%b/1", "a%b\uffff", "a%b\U0001f600"]
    assert _sks(table.query("p", sk_prefix="a_")) == ["a_c"]
    assert _sks(table.query("p", sk_prefix="\U0010ffff")) == []


def test_delete_removes_and_deleting_again_is_fine(table: Table) -> None:
    table.put({"pk": "a", "sk": "1"})
    table.put({"pk": "a", "sk": "2"})

    table.delete("a", "1")
    table.delete("a", "1")
    table.delete("never", "there")

    assert _sks(table.query("a")) == ["2"]


def test_put_many_writes_every_item(table: Table) -> None:
    items = [{"pk": "batch", "sk": f"{n:04d}", "n": n} for n in range(250)]

    assert table.put_many(iter(items)) == 250
    assert table.put_many([]) == 0
    assert table.query("batch") == items


def test_query_json_streams_a_key_range_as_json_chunks(table: Table) -> None:
    items = [{"pk": "inference#p", "sk": f"{n:04d}", "n": n, "text": "é\n✓"} for n in range(10)]
    table.put_many(items)
    table.put({"pk": "inference#other", "sk": "0003", "n": -1})

    chunks = list(table.query_json("inference#p", sk_gte="0002", sk_lt="0009", chunk_items=3))

    assert [len(c) for c in chunks] == [3, 3, 1]
    assert all(b"\n" not in body for c in chunks for body in c)  # one item a line, joined
    assert [orjson.loads(body) for c in chunks for body in c] == items[2:9]
    assert list(table.query_json("inference#p", sk_gte="0010")) == []
    with pytest.raises(InvalidInput):
        list(table.query_json("inference#p", chunk_items=0))


def test_count_counts_a_key_range_without_reading_it(table: Table) -> None:
    table.put_many([{"pk": "inference#p", "sk": f"{n:04d}", "n": n} for n in range(10)])
    table.put({"pk": "inference#other", "sk": "0003", "n": -1})

    assert table.count("inference#p") == 10
    assert table.count("inference#p", sk_gte="0002", sk_lt="0009") == 7
    assert table.count("inference#p", sk_gte="0010") == 0
    assert table.count("nothing#here") == 0
    with pytest.raises(InvalidInput):
        table.count("inference#p", sk_lt=3)  # type: ignore[arg-type]


def test_put_many_rejects_a_bad_batch_before_writing_any_of_it(table: Table) -> None:
    items: list[Item] = [{"pk": "batch", "sk": "1"}, {"pk": "batch", "sk": "2", "when": object()}]

    with pytest.raises(InvalidInput):
        table.put_many(items)
    assert table.query("batch") == []


@pytest.mark.parametrize(
    "item",
    [
        {"sk": "1"},
        {"pk": "a"},
        {"pk": 1, "sk": "1"},
        {"pk": "a", "sk": None},
        {"pk": "a", "sk": "1", "when": datetime(2024, 1, 1, tzinfo=UTC)},
        {"pk": "a", "sk": "1", "blob": b"bytes"},
        {"pk": "a", "sk": "1", "tags": {"x", "y"}},
        {"pk": "a", "sk": "1", "price": Decimal("1.5")},
        {"pk": "a", "sk": "1", "score": float("nan")},
        {"pk": "a", "sk": "1", "by_id": {1: "one"}},
        {"pk": "a", "sk": "1", "deep": [{"ok": 1}, {"bad": object()}]},
    ],
    ids=[
        "no-pk",
        "no-sk",
        "int-pk",
        "none-sk",
        "datetime",
        "bytes",
        "set",
        "decimal",
        "nan",
        "int-key",
        "nested",
    ],
)
def test_items_that_are_not_json_are_rejected(table: Table, item: Item) -> None:
    with pytest.raises(InvalidInput):
        table.put(item)
    assert table.query("a") == []


def test_items_survive_a_new_table_instance(make_table: Callable[[], Table]) -> None:
    make_table().put({"pk": "a", "sk": "1", "v": [1, 2]})

    assert make_table().get("a", "1") == {"pk": "a", "sk": "1", "v": [1, 2]}


def test_threads_share_one_table_instance(table: Table) -> None:
    def write(thread: int) -> None:
        for n in range(30):
            table.put({"pk": "threads", "sk": f"{thread}-{n:02d}"})

    threads = [threading.Thread(target=write, args=(t,)) for t in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert len(table.query("threads")) == 6 * 30


# The SQLite table's own promises.


def test_the_sqlite_table_creates_its_folder_on_first_use(tmp_path: Path) -> None:
    path = tmp_path / "not" / "yet" / "conveyor.db"
    table = SqliteTable(path=path)
    assert not path.parent.exists()

    table.put({"pk": "a", "sk": "1"})
    table.close()

    assert path.exists()


def test_the_sqlite_table_reopens_after_close(tmp_path: Path) -> None:
    table = SqliteTable(path=tmp_path / "conveyor.db")
    table.put({"pk": "a", "sk": "1"})
    table.close()

    assert table.get("a", "1") == {"pk": "a", "sk": "1"}
    table.close()


def _inference_items(count: int) -> list[Item]:
    row = {f"feature_{i:02d}_value": 1000.0 + i / 7 for i in range(30)}
    return [
        {"pk": "infer#p", "sk": f"2026-03-01T09:{i // 60:02d}:{i % 60:02d}#r{i}", "inputs": [row]}
        for i in range(count)
    ]


def test_a_new_sqlite_table_keeps_one_kilobyte_items_whole_in_its_pages(tmp_path: Path) -> None:
    table = SqliteTable(path=tmp_path / "conveyor.db")
    items = _inference_items(2000)
    assert 1000 < len(orjson.dumps(items[0])) < 1500
    table.put_many(items)
    table.close()

    # At 4 KB pages each such item spilled into an overflow page of its own: 8 MB here.
    with sqlite3.connect(tmp_path / "conveyor.db") as conn:
        pages, page_size = conn.execute("PRAGMA page_count").fetchone()[0], 16384
        assert conn.execute("PRAGMA page_size").fetchone()[0] == page_size
    assert pages * page_size < 4 * 2**20
    assert table.count("infer#p") == 2000


def test_an_existing_sqlite_table_keeps_its_own_page_size(tmp_path: Path) -> None:
    path = tmp_path / "conveyor.db"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute(
            "CREATE TABLE items (pk TEXT NOT NULL, sk TEXT NOT NULL, body TEXT NOT NULL, "
            "PRIMARY KEY (pk, sk)) WITHOUT ROWID"
        )
    table = SqliteTable(path=path)
    table.put_many(_inference_items(10))

    assert table.count("infer#p") == 10
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA page_size").fetchone()[0] == 4096
    table.close()


def _open_files() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="needs /proc to count files")
def test_the_sqlite_table_does_not_leak_open_files_as_threads_come_and_go(tmp_path: Path) -> None:
    table = SqliteTable(path=tmp_path / "conveyor.db")
    table.put({"pk": "a", "sk": "1"})
    before = _open_files()

    for _ in range(40):
        thread = threading.Thread(target=table.get, args=("a", "1"))
        thread.start()
        thread.join(10)

    assert _open_files() - before < 10
    table.close()


def _write_in_child(table: SqliteTable, results: Any) -> None:
    table.put({"pk": "fork", "sk": "child"})
    results.put(table.get("fork", "parent"))


def test_the_sqlite_table_works_in_a_forked_child_and_after_it(tmp_path: Path) -> None:
    table = SqliteTable(path=tmp_path / "conveyor.db")
    table.put({"pk": "fork", "sk": "parent"})  # this thread now holds a connection
    fork = multiprocessing.get_context("fork")
    results = fork.Queue()
    with warnings.catch_warnings():
        # Python >= 3.12 warns about forking a process with threads; SQLite is the point here.
        warnings.simplefilter("ignore", DeprecationWarning)
        child = fork.Process(target=_write_in_child, args=(table, results))
        child.start()
    seen = results.get(timeout=30)
    child.join(30)

    assert child.exitcode == 0
    assert seen == {"pk": "fork", "sk": "parent"}
    assert table.get("fork", "child") == {"pk": "fork", "sk": "child"}
    table.put({"pk": "fork", "sk": "after"})
    assert len(table.query("fork")) == 3
    table.close()


def test_put_many_round_trips_values_exactly(table) -> None:  # type: ignore[no-untyped-def]
    values = [
        0.1 + 0.2,
        1e-300,
        123456789.12345679,
        2**53 + 1,
        -0.0,
        1 / 3,
        5e-324,
        'é\u2028"x\\',
        {"a": [1, 2, {"b": None}]},
        True,
        [],
        {},
    ]
    table.put_many({"pk": "exact", "sk": f"{i:02d}", "v": v} for i, v in enumerate(values))
    stored = [item["v"] for item in table.query("exact")]
    assert stored == values
    assert [type(v) for v in stored] == [type(v) for v in values]


def test_items_decoded_from_json_are_written_as_they_came(table) -> None:  # type: ignore[no-untyped-def]
    # The record writer's path: the value check is skipped, the items are not changed.
    items = orjson.loads(
        b'[{"pk": "j", "sk": "1", "inputs": [{"a": 1.5, "b": null}], "e": "\\u2028"},'
        b' {"pk": "j", "sk": "2", "inputs": null, "n": 12345678901234}]'
    )
    assert table.put_many(items, from_json=True) == 2
    assert table.query("j") == items
