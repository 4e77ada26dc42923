"""The EventQueue contract, run on every backend that is its own queue; then the SQLite
queue's own promises."""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conveyor.errors import InvalidInput
from conveyor.events import Event, EventType
from conveyor.events.sqlite import SqliteEventBus
from conveyor.tables.sqlite import SqliteTable
from tests.integration.contracts.conftest import PublishingQueue


def created(key: str) -> Event:
    return Event(EventType.OBJECT_CREATED, {"bucket": "raw", "key": key, "size": 3})


def keys_of(messages: list[Any]) -> list[str]:
    return [message.event.detail["key"] for message in messages]


def test_a_published_event_is_received_as_it_was_sent(event_queue: PublishingQueue) -> None:
    event = Event(
        EventType.TRAINING_JOB_STATE_CHANGE,
        {"job": "churn-1", "status": "Completed", "metrics": {"auc": 0.9}, "tags": ["a"]},
    )

    first, second = event_queue.publish(event), event_queue.publish(created("p/x.csv"))
    [message] = event_queue.receive(max_messages=1)

    assert first != second
    assert message.event == event
    assert message.attempts == 1
    assert event_queue.depth() == 2


def test_events_come_oldest_first_in_batches_of_at_most_max_messages(
    event_queue: PublishingQueue,
) -> None:
    for n in range(5):
        event_queue.publish(created(f"p/{n}.csv"))

    first = event_queue.receive(max_messages=3)
    rest = event_queue.receive(max_messages=3)

    assert keys_of(first) == ["p/0.csv", "p/1.csv", "p/2.csv"]
    assert keys_of(rest) == ["p/3.csv", "p/4.csv"]
    assert event_queue.receive() == []


def test_a_leased_event_is_hidden_from_every_other_receiver(
    make_event_queue: Callable[[], PublishingQueue],
) -> None:
    worker, other_worker = make_event_queue(), make_event_queue()
    worker.publish(created("p/x.csv"))

    leased = worker.receive(visibility_timeout=30)

    assert keys_of(leased) == ["p/x.csv"]
    assert other_worker.receive(visibility_timeout=30) == []
    assert worker.receive() == []
    assert other_worker.depth() == 1


def test_an_unacknowledged_event_comes_back_after_its_visibility_timeout(
    event_queue: PublishingQueue,
) -> None:
    event_queue.publish(created("p/x.csv"))
    [crashed] = event_queue.receive(visibility_timeout=0.2)

    time.sleep(0.3)
    [again] = event_queue.receive(visibility_timeout=30)

    assert again.event == crashed.event
    assert again.attempts == 2
    event_queue.ack(crashed)  # the first lease ran out: its receipt no longer counts
    assert event_queue.depth() == 1
    event_queue.ack(again)
    assert event_queue.depth() == 0


def test_ack_removes_the_event_and_acking_twice_is_fine(event_queue: PublishingQueue) -> None:
    event_queue.publish(created("p/x.csv"))
    [message] = event_queue.receive(visibility_timeout=0.1)

    event_queue.ack(message)
    event_queue.ack(message)
    time.sleep(0.15)

    assert event_queue.depth() == 0
    assert event_queue.receive() == []


def test_release_returns_the_event_now_or_after_a_delay(event_queue: PublishingQueue) -> None:
    event_queue.publish(created("p/x.csv"))
    [message] = event_queue.receive(visibility_timeout=30)

    event_queue.release(message)
    [again] = event_queue.receive(visibility_timeout=30)
    event_queue.release(again, delay=0.3)

    assert again.attempts == 2
    assert event_queue.receive() == []
    time.sleep(0.4)
    assert [m.attempts for m in event_queue.receive()] == [3]


def test_a_released_lease_can_no_longer_be_acknowledged_by_its_old_receipt(
    event_queue: PublishingQueue,
) -> None:
    event_queue.publish(created("p/x.csv"))
    [message] = event_queue.receive(visibility_timeout=30)
    event_queue.release(message)

    event_queue.ack(message)

    assert keys_of(event_queue.receive()) == ["p/x.csv"]


def test_events_survive_a_new_bus_instance(make_event_queue: Callable[[], PublishingQueue]) -> None:
    make_event_queue().publish(created("p/x.csv"))

    restarted = make_event_queue()

    assert restarted.depth() == 1
    assert keys_of(restarted.receive()) == ["p/x.csv"]


def _drain(bus: PublishingQueue, barrier: Any, results: Any) -> None:
    barrier.wait(30)
    mine: list[str] = []
    while batch := bus.receive(max_messages=2, visibility_timeout=60):
        mine.extend(keys_of(batch))
    results.put(mine)


def test_processes_receiving_at_once_never_get_the_same_event(event_queue: PublishingQueue) -> None:
    published = [f"p/{n:03d}.csv" for n in range(60)]
    for key in published:
        event_queue.publish(created(key))
    spawn = multiprocessing.get_context("spawn")
    receivers = 3
    barrier, results = spawn.Barrier(receivers), spawn.Queue()
    processes = [
        spawn.Process(target=_drain, args=(event_queue, barrier, results)) for _ in range(receivers)
    ]
    for process in processes:
        process.start()
    received = [key for _ in processes for key in results.get(timeout=60)]
    for process in processes:
        process.join(30)

    assert sorted(received) == published


def test_a_detail_that_is_not_json_is_rejected(event_queue: PublishingQueue) -> None:
    with pytest.raises(InvalidInput):
        event_queue.publish(Event(EventType.OBJECT_CREATED, {"when": object()}))
    assert event_queue.depth() == 0


# The SQLite queue's own promises.


def test_the_queue_and_the_table_can_share_one_database_file(tmp_path: Path) -> None:
    path = tmp_path / "conveyor.db"
    bus, table = SqliteEventBus(path=path), SqliteTable(path=path)
    try:
        table.put({"pk": "a", "sk": "1"})
        bus.publish(created("p/x.csv"))

        assert table.get("a", "1") == {"pk": "a", "sk": "1"}
        assert keys_of(bus.receive()) == ["p/x.csv"]
    finally:
        bus.close()
        table.close()


def test_a_receipt_from_elsewhere_is_rejected(tmp_path: Path) -> None:
    bus = SqliteEventBus(path=tmp_path / "conveyor.db")
    bus.publish(created("p/x.csv"))
    [message] = bus.receive()
    forged = type(message)(event=message.event, receipt="not-a-receipt", attempts=1)
    try:
        with pytest.raises(InvalidInput, match="receipt"):
            bus.ack(forged)
    finally:
        bus.close()
