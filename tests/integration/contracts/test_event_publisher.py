"""The EventPublisher contract, run on every events backend (the SQLite queue and EventBridge
on moto): what any code that only publishes may count on."""

from __future__ import annotations

import pickle
from collections.abc import Callable

import pytest

from conveyor.errors import InvalidInput
from conveyor.events import Event, EventPublisher, EventType


def created(key: str) -> Event:
    return Event(EventType.OBJECT_CREATED, {"bucket": "raw", "key": key, "size": 3})


def test_each_published_event_gets_its_own_id(event_publisher: EventPublisher) -> None:
    ids = [event_publisher.publish(created(f"p/{n}.csv")) for n in range(3)]

    assert all(isinstance(event_id, str) and event_id for event_id in ids)
    assert len(set(ids)) == 3


def test_a_detail_that_is_not_json_is_refused_as_invalid_input(
    event_publisher: EventPublisher,
) -> None:
    with pytest.raises(InvalidInput):
        event_publisher.publish(Event(EventType.OBJECT_CREATED, {"when": object()}))


def test_a_copy_in_another_process_publishes_to_the_same_place(
    make_event_publisher: Callable[[], EventPublisher],
) -> None:
    publisher = make_event_publisher()
    copy = pickle.loads(pickle.dumps(publisher))

    assert copy.scheme == publisher.scheme
    assert copy.publish(created("p/x.csv"))
